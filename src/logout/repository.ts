import type { Db } from '../db/client.ts';
import type { Prisma } from '../generated/prisma/client.ts';

/** One logout token to deliver: `accountId` becomes its `sub`, `sid` its `sid`. */
export interface PendingLogout { clientId: string; accountId: string; sid: string | null }
export interface ClaimedLogout extends PendingLogout { id: string; attempts: number }

type Queryable = Db | Prisma.TransactionClient;

export async function queueLogouts(db: Queryable, logouts: PendingLogout[]): Promise<void> {
  if (logouts.length) await db.backchannelLogout.createMany({ data: logouts });
}

/**
 * Queues a logout for every app signed in through the account's sessions (all of them, or
 * the one with `sessionUid`), in the caller's transaction, before those sessions are
 * deleted: Doorman ending sessions itself (admin, disable, merge) never passes through
 * oidc-provider's end_session, which is where it would send them. Apps without a
 * backchannel_logout_uri are dropped by the delivery, which knows the clients.
 */
export async function queueLogoutsForSessions(tx: Prisma.TransactionClient, accountId: string, sessionUid?: string): Promise<void> {
  const live = { OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] };
  const sessions = await tx.oidcModel.findMany({ where: { model: 'Session', accountId, ...(sessionUid ? { uid: sessionUid } : {}), ...live }, select: { payload: true } });
  await queueLogouts(tx, sessions.flatMap(({ payload }) => logoutsOfSession(accountId, payload)));
}

/** oidc-provider's Session payload: `authorizations` maps each client signed in to its `sid`. */
function logoutsOfSession(accountId: string, payload: Prisma.JsonValue): PendingLogout[] {
  const authorizations = (payload as { authorizations?: Record<string, { sid?: unknown }> } | null)?.authorizations ?? {};
  return Object.entries(authorizations).map(([clientId, { sid }]) => ({ clientId, accountId, sid: typeof sid === 'string' ? sid : null }));
}

/**
 * Takes up to `limit` due deliveries for one attempt each. The same statement counts the
 * attempt and moves the row's next attempt past this one's time limit plus the back-off
 * (`retryDelayMs` doubling per attempt, at most `maxDelayMs`), so a second process
 * skips it (SKIP LOCKED, then the later time) and a crash mid-delivery only delays it.
 */
export async function claimDueLogouts(db: Db, limit: number, timeoutMs: number, retryDelayMs: number, maxDelayMs: number): Promise<ClaimedLogout[]> {
  return db.$queryRaw<ClaimedLogout[]>`
    UPDATE "BackchannelLogout" SET attempts = attempts + 1,
      "nextAttemptAt" = now() + make_interval(secs => (${timeoutMs}::float8 + LEAST(${maxDelayMs}::float8, ${retryDelayMs}::float8 * power(2, LEAST(attempts, 30)))) / 1000)
    WHERE id IN (SELECT id FROM "BackchannelLogout" WHERE "nextAttemptAt" <= now() ORDER BY "nextAttemptAt" LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING id, "clientId", "accountId", sid, attempts`;
}

/** Delivered, given up, or for an app that no longer takes logout tokens. */
export async function forgetLogout(db: Db, id: string): Promise<void> {
  await db.backchannelLogout.deleteMany({ where: { id } });
}
