import { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../db/client.ts';
import { recordAudit } from '../audit/record.ts';
import type { UpstreamIdentity } from '../upstreams/connector.ts';
import { createAccountWithIdentity, findIdentity, updateIdentityAtLogin } from './repository.ts';

export type LoginOutcome =
  | { kind: 'signed-in'; accountId: string; created: boolean }
  | { kind: 'refused'; reason: 'account_disabled' };

/**
 * Maps an upstream identity to its account, creating both on first sight. The upstream
 * subject is the key; email never is (linking by email is a separate, deliberate step).
 * The decision and its audit row are written in one transaction.
 */
export async function signInWithIdentity(db: Db, identity: UpstreamIdentity, clientId: string | undefined): Promise<LoginOutcome> {
  try {
    return await attempt(db, identity, clientId);
  } catch (err) {
    // Two first logins of the same identity racing: the loser retries and finds the winner's row.
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return attempt(db, identity, clientId);
    throw err;
  }
}

function attempt(db: Db, identity: UpstreamIdentity, clientId: string | undefined): Promise<LoginOutcome> {
  const who = { provider: identity.connectorId, subject: identity.subject, ...(clientId ? { clientId } : {}) };
  return db.$transaction(async (tx) => {
    const now = new Date();
    const existing = await findIdentity(tx, identity.connectorId, identity.subject);
    if (existing?.account.disabledAt) {
      await recordAudit(tx, { type: 'login.refused', accountId: existing.accountId, reason: 'account_disabled', ...who });
      return { kind: 'refused', reason: 'account_disabled' } as const;
    }
    if (existing) {
      await updateIdentityAtLogin(tx, existing.id, identity, now);
      await recordAudit(tx, { type: 'login', accountId: existing.accountId, ...who });
      return { kind: 'signed-in', accountId: existing.accountId, created: false } as const;
    }
    const accountId = await createAccountWithIdentity(tx, identity, now);
    await recordAudit(tx, { type: 'account.created', accountId, ...who });
    await recordAudit(tx, { type: 'login', accountId, ...who });
    return { kind: 'signed-in', accountId, created: true } as const;
  });
}
