import { recordAudit } from '../audit/record.ts';
import type { Db } from '../db/client.ts';
import { moveConsents } from '../consents/repository.ts';
import { moveGrants, revokeEverythingOf, revokeGrantOf, revokeSessionOf } from '../oidc/adapter.ts';
import { deleteSealedTokens, deleteSealedTokensOfAccount } from '../token-vault/repository.ts';
import { canonicalEmail } from './email.ts';
import { findAccountState, findIdentity, recentEvents } from './repository.ts';
import { searchAccountIds } from './search.ts';
import { reconcilePrimaryEmail } from './service.ts';

/**
 * What an admin can do to accounts, for the admin API and the CLI alike. Each action is
 * one transaction with its audit row naming the actor (`account:<id>` or `cli:<user>`).
 */

export type AdminOutcome<T = object> = ({ kind: 'done' } & T) | { kind: 'refused'; reason: string };

/** The HTTP status of a refusal, the same for the admin API and the console: a missing thing is 404, any other refusal a 409 conflict. */
export function refusalStatus(reason: string): number {
  return reason === 'account_not_found' || reason === 'not_found' ? 404 : 409;
}

export interface AccountSummary {
  id: string;
  createdAt: Date;
  disabled: boolean;
  admin: boolean;
  retired: boolean;
  mergedIntoId: string | null;
  /** The primary email apps see (canonical form). */
  email: string | null;
  /** `email`: as the upstream sent it; `emailCanonical`: the form compared, null when it has none. */
  identities: { id: string; provider: string; subject: string; email: string | null; emailCanonical: string | null; emailVerified: boolean; lastLoginAt: Date | null }[];
}

const summarySelect = {
  id: true, createdAt: true, disabledAt: true, admin: true, retiredAt: true, mergedIntoId: true, email: true,
  identities: { select: { id: true, provider: true, subject: true, email: true, emailCanonical: true, emailVerified: true, lastLoginAt: true }, orderBy: { createdAt: 'asc' as const } },
};

function toSummary(a: { id: string; createdAt: Date; disabledAt: Date | null; admin: boolean; retiredAt: Date | null; mergedIntoId: string | null; email: string | null; identities: AccountSummary['identities'] }): AccountSummary {
  return { id: a.id, createdAt: a.createdAt, disabled: a.disabledAt !== null, admin: a.admin, retired: a.retiredAt !== null, mergedIntoId: a.mergedIntoId, email: a.email, identities: a.identities };
}

/**
 * Accounts whose id, primary email, or an identity's email, subject, provider or name (as the upstream sent it), matches
 * `query`; newest first, paged by id cursor. Emails match by canonical form (a whole
 * address, or part of one lowercased in ASCII only, ./email.ts), or by the exact
 * characters an upstream sent, so an admin can also find a look-alike address by pasting it;
 * names match any part in any case. Id, subject and upstream id match exactly.
 */
export async function searchAccounts(db: Db, opts: { query?: string; limit: number; cursor?: string }): Promise<{ accounts: AccountSummary[]; nextCursor: string | null }> {
  const ids = await searchAccountIds(db, { ...opts, limit: opts.limit + 1 });
  const pageIds = ids.slice(0, opts.limit);
  const rows = await db.account.findMany({ where: { id: { in: pageIds } }, select: summarySelect });
  const byId = new Map(rows.map((r) => [r.id, r]));
  const page = pageIds.flatMap((id) => (byId.has(id) ? [toSummary(byId.get(id)!)] : []));
  return { accounts: page, nextCursor: ids.length > opts.limit ? pageIds[pageIds.length - 1]! : null };
}

export async function getAccount(db: Db, id: string): Promise<(AccountSummary & { events: Awaited<ReturnType<typeof recentEvents>> }) | undefined> {
  const row = await db.account.findUnique({ where: { id }, select: summarySelect });
  return row ? { ...toSummary(row), events: await recentEvents(db, id, 50) } : undefined;
}

/**
 * Attaches the identity (provider, subject) to the account. An identity Doorman has not
 * seen yet is pre-provisioned: its first sign-in reaches this account. One that belongs
 * to another account moves, unless it is that account's last (merge the two instead).
 */
export function adminLinkIdentity(db: Db, accountId: string, ref: { provider: string; subject: string; email?: string }, actor: string): Promise<AdminOutcome<{ identityId: string }>> {
  return db.$transaction(async (tx) => {
    const account = await findAccountState(tx, accountId);
    if (!account || account.retiredAt) return { kind: 'refused', reason: 'account_not_found' } as const;
    const existing = await findIdentity(tx, ref.provider, ref.subject);
    if (existing?.accountId === accountId) return { kind: 'refused', reason: 'already_linked' } as const;
    if (existing) {
      const siblings = await tx.identity.count({ where: { accountId: existing.accountId } });
      if (siblings === 1) return { kind: 'refused', reason: 'last_identity_of_other_account' } as const;
      await tx.identity.update({ where: { id: existing.id }, data: { accountId } });
      // Its upstream tokens were given for the other account: the new owner signs in to store their own.
      await deleteSealedTokens(tx, existing.id);
      await recordAudit(tx, { type: 'identity.unlinked', accountId: existing.accountId, provider: ref.provider, subject: ref.subject, actor });
      await recordAudit(tx, { type: 'identity.linked', accountId, provider: ref.provider, subject: ref.subject, how: 'admin', from: existing.accountId, actor });
      await reconcilePrimaryEmail(tx, existing.accountId, actor);
      await reconcilePrimaryEmail(tx, accountId, actor);
      return { kind: 'done', identityId: existing.id } as const;
    }
    // A pre-provisioned email is not verified by anyone until the upstream says so at sign-in.
    const row = await tx.identity.create({
      data: {
        accountId, provider: ref.provider, subject: ref.subject, email: ref.email ?? null, emailCanonical: ref.email ? canonicalEmail(ref.email) ?? null : null,
        emailVerified: false, profile: { groups: [], raw: {} },
      },
      select: { id: true },
    });
    await recordAudit(tx, { type: 'identity.linked', accountId, provider: ref.provider, subject: ref.subject, how: 'admin', actor });
    return { kind: 'done', identityId: row.id } as const;
  });
}

/**
 * Merges `retiredId` into `survivorId`: identities, consents (grants) and audit history
 * move to the survivor; the retired account's sessions and tokens are revoked and it can
 * never sign in again (its `sub` is not reused: ids are never recycled). The survivor's
 * tokens stay valid.
 */
export function mergeAccounts(db: Db, survivorId: string, retiredId: string, actor: string): Promise<AdminOutcome<{ movedIdentities: number }>> {
  return db.$transaction(async (tx) => {
    if (survivorId === retiredId) return { kind: 'refused', reason: 'same_account' } as const;
    const [survivor, retired] = await Promise.all([findAccountState(tx, survivorId), findAccountState(tx, retiredId)]);
    if (!survivor || survivor.retiredAt || !retired || retired.retiredAt) return { kind: 'refused', reason: 'account_not_found' } as const;
    // Stored upstream tokens do not move with the identities: the survivor signs in to store them again.
    await deleteSealedTokensOfAccount(tx, retiredId);
    const { count: movedIdentities } = await tx.identity.updateMany({ where: { accountId: retiredId }, data: { accountId: survivorId } });
    await tx.auditEvent.updateMany({ where: { accountId: retiredId }, data: { accountId: survivorId } });
    await moveGrants(tx, retiredId, survivorId);
    await moveConsents(tx, retiredId, survivorId, new Date());
    await revokeEverythingOf(tx, retiredId);
    await tx.account.update({ where: { id: retiredId }, data: { retiredAt: new Date(), mergedIntoId: survivorId } });
    await recordAudit(tx, { type: 'account.merged', accountId: survivorId, retired: retiredId, movedIdentities, actor });
    await reconcilePrimaryEmail(tx, survivorId, actor);
    await recordAudit(tx, { type: 'account.retired', accountId: retiredId, mergedInto: survivorId, actor });
    return { kind: 'done', movedIdentities } as const;
  });
}

/** Disabling ends every session and revokes every grant and token of the account at once. */
export function setDisabled(db: Db, accountId: string, disabled: boolean, actor: string): Promise<AdminOutcome<{ revoked: number }>> {
  return db.$transaction(async (tx) => {
    const account = await findAccountState(tx, accountId);
    if (!account || account.retiredAt) return { kind: 'refused', reason: 'account_not_found' } as const;
    await tx.account.update({ where: { id: accountId }, data: { disabledAt: disabled ? new Date() : null } });
    const revoked = disabled ? await revokeEverythingOf(tx, accountId) : 0;
    if (disabled) await deleteSealedTokensOfAccount(tx, accountId);
    await recordAudit(tx, { type: disabled ? 'account.disabled' : 'account.enabled', accountId, actor, ...(disabled ? { revoked } : {}) });
    return { kind: 'done', revoked } as const;
  });
}

export function setAdmin(db: Db, accountId: string, admin: boolean, actor: string): Promise<AdminOutcome> {
  return db.$transaction(async (tx) => {
    const account = await findAccountState(tx, accountId);
    if (!account || account.retiredAt) return { kind: 'refused', reason: 'account_not_found' } as const;
    await tx.account.update({ where: { id: accountId }, data: { admin } });
    await recordAudit(tx, { type: admin ? 'admin.granted' : 'admin.revoked', accountId, actor });
    return { kind: 'done' } as const;
  });
}


/** What a merge of `retiredId` into `survivorId` would move and end, for a confirmation page; undefined when either account cannot take part. */
export async function previewMerge(db: Db, survivorId: string, retiredId: string): Promise<{ survivor: AccountSummary; retired: AccountSummary; consents: number; events: number; liveRows: number } | undefined> {
  const [survivor, retired] = await Promise.all([
    db.account.findUnique({ where: { id: survivorId }, select: summarySelect }),
    db.account.findUnique({ where: { id: retiredId }, select: summarySelect }),
  ]);
  if (!survivor || !retired || survivor.retiredAt || retired.retiredAt || survivorId === retiredId) return undefined;
  const [consents, events, liveRows] = await Promise.all([
    db.consent.count({ where: { accountId: retiredId } }),
    db.auditEvent.count({ where: { accountId: retiredId } }),
    db.oidcModel.count({ where: { accountId: retiredId, model: { not: 'Grant' } } }),
  ]);
  return { survivor: toSummary(survivor), retired: toSummary(retired), consents, events, liveRows };
}

/** Ends one Doorman browser session of the account (the person must sign in again there). */
export function endSession(db: Db, accountId: string, sessionUid: string, actor: string): Promise<AdminOutcome<{ revoked: number }>> {
  return db.$transaction(async (tx) => {
    const revoked = await revokeSessionOf(tx, accountId, sessionUid);
    if (revoked === 0) return { kind: 'refused', reason: 'not_found' } as const;
    await recordAudit(tx, { type: 'session.revoked', accountId, actor, revoked });
    return { kind: 'done', revoked } as const;
  });
}

/** Revokes one grant (an app's refresh token, its access tokens and codes); the app must send the person through sign-in again. */
export function revokeGrant(db: Db, accountId: string, grantId: string, actor: string): Promise<AdminOutcome<{ revoked: number }>> {
  return db.$transaction(async (tx) => {
    const revoked = await revokeGrantOf(tx, accountId, grantId);
    if (revoked === 0) return { kind: 'refused', reason: 'not_found' } as const;
    await recordAudit(tx, { type: 'grant.revoked', accountId, actor, revoked });
    return { kind: 'done', revoked } as const;
  });
}

/** Ends every session and revokes every grant and token of the account, leaving it enabled. */
export function signOutEverywhere(db: Db, accountId: string, actor: string): Promise<AdminOutcome<{ revoked: number }>> {
  return db.$transaction(async (tx) => {
    const account = await findAccountState(tx, accountId);
    if (!account || account.retiredAt) return { kind: 'refused', reason: 'account_not_found' } as const;
    const revoked = await revokeEverythingOf(tx, accountId);
    await recordAudit(tx, { type: 'account.signed-out', accountId, actor, revoked });
    return { kind: 'done', revoked } as const;
  });
}
