import { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../db/client.ts';
import { recordAudit } from '../audit/record.ts';
import type { UpstreamIdentity } from '../upstreams/connector.ts';
import { canonicalEmail } from './email.ts';
import { decideLink, type LinkPolicy } from './linking.ts';
import {
  adoptableEmail, addIdentityToAccount, createAccountWithIdentity, createPendingLink, deletePendingLink, findAccountState, findIdentity,
  findLinkCandidates, findPrimaryEmail, findVerifiedEmails, lockAccount, lockIdentity, lockPendingLink, setPrimaryEmail, signInKnownIdentity,
  updateIdentityAtLogin,
} from './repository.ts';

type Tx = Prisma.TransactionClient;

/**
 * The account side of a sign-in, each decision written in one transaction with its audit
 * rows. Expected outcomes (refusals included) are return values; only faults throw.
 */

export type LoginOutcome =
  | { kind: 'signed-in'; accountId: string; created: boolean; autoLinked?: true }
  | { kind: 'offer-link'; pendingLinkId: string }
  | { kind: 'refused'; reason: 'account_disabled' | 'signup_disabled' };

export interface LoginContext {
  clientId: string | undefined;
  interactionUid: string;
  policy: LinkPolicy;
  /** How long a pending link may wait for its proof (the interaction's remaining life). */
  offerTtlSeconds: number;
}

/** A person came back from an upstream: find, create or (safely) link their account. */
export async function resolveUpstreamLogin(db: Db, identity: UpstreamIdentity, ctx: LoginContext): Promise<LoginOutcome> {
  const known = await signInKnownIdentity(db, identity, ctx.clientId, new Date());
  if (known) {
    return known.blocked ? { kind: 'refused', reason: 'account_disabled' } : { kind: 'signed-in', accountId: known.accountId, created: false };
  }
  return retryOnUniqueViolation(() => db.$transaction(async (tx): Promise<LoginOutcome> => {
    const now = new Date();
    const who = { provider: identity.connectorId, subject: identity.subject, ...(ctx.clientId ? { clientId: ctx.clientId } : {}) };
    await lockIdentity(tx, identity.connectorId, identity.subject);
    const existing = await findIdentity(tx, identity.connectorId, identity.subject);
    if (existing) {
      if (existing.account.disabledAt || existing.account.retiredAt) {
        await recordAudit(tx, { type: 'login.refused', accountId: existing.accountId, reason: 'account_disabled', ...who });
        return { kind: 'refused', reason: 'account_disabled' };
      }
      await updateIdentityAtLogin(tx, existing.id, identity, now);
      await adoptEmailIfUnvouched(tx, existing.accountId, identity);
      await recordAudit(tx, { type: 'login', accountId: existing.accountId, ...who });
      return { kind: 'signed-in', accountId: existing.accountId, created: false };
    }

    // Only the canonical form is compared (./email.ts): an address without one links to nothing and is offered nothing.
    const email = identity.email ? canonicalEmail(identity.email) : undefined;
    const candidates = email ? await findLinkCandidates(tx, email) : [];
    const decision = decideLink({ email, emailVerified: identity.emailVerified }, candidates, ctx.policy);
    switch (decision.kind) {
      case 'create': {
        const accountId = await createAccountWithIdentity(tx, identity, now);
        await recordAudit(tx, { type: 'account.created', accountId, ...who });
        if (decision.unverifiedHolders) {
          await recordAudit(tx, { type: 'email.collision', accountId, reason: 'unverified_elsewhere', unverifiedHolders: decision.unverifiedHolders, ...who });
        }
        await recordAudit(tx, { type: 'login', accountId, ...who });
        return { kind: 'signed-in', accountId, created: true };
      }
      case 'auto-link': {
        const account = await findAccountState(tx, decision.accountId);
        if (!account || account.disabledAt || account.retiredAt) {
          await recordAudit(tx, { type: 'login.refused', accountId: decision.accountId, reason: 'account_disabled', ...who });
          return { kind: 'refused', reason: 'account_disabled' };
        }
        await addIdentityToAccount(tx, decision.accountId, identity, now);
        await recordAudit(tx, { type: 'identity.linked', accountId: decision.accountId, how: 'auto', reason: 'both_emails_verified', ...who });
        await adoptEmailIfUnvouched(tx, decision.accountId, identity);
        await recordAudit(tx, { type: 'login', accountId: decision.accountId, ...who });
        return { kind: 'signed-in', accountId: decision.accountId, created: false, autoLinked: true };
      }
      case 'offer-link': {
        const pendingLinkId = await createPendingLink(tx, ctx.interactionUid, identity, decision.accountIds, ctx.offerTtlSeconds);
        await recordAudit(tx, { type: 'link.offered', reason: decision.reason, candidates: decision.accountIds, ...who });
        return { kind: 'offer-link', pendingLinkId };
      }
      case 'refuse':
        await recordAudit(tx, { type: 'login.refused', reason: decision.reason, ...who });
        return { kind: 'refused', reason: decision.reason };
    }
  }));
}

/** An upstream refused by policy (hosted domain, organization): no identity was mapped, but the decision is logged. */
export async function recordUpstreamRefusal(db: Db, provider: string, reason: string, clientId: string | undefined): Promise<void> {
  await recordAudit(db, { type: 'login.refused', provider, reason, ...(clientId ? { clientId } : {}) });
}

export type ProofOutcome =
  | { kind: 'linked'; accountId: string }
  | { kind: 'refused'; reason: 'link_expired' | 'proof_mismatch' | 'account_disabled' };

/**
 * The person signed in with `proof` to show they own an account the pending identity's
 * email matched. Only an identity already linked to one of those accounts is a proof.
 */
export function completeLinkProof(db: Db, pendingLinkId: string, proof: UpstreamIdentity, clientId: string | undefined): Promise<ProofOutcome> {
  return db.$transaction(async (tx): Promise<ProofOutcome> => {
    const pending = await lockPendingLink(tx, pendingLinkId);
    if (!pending) return { kind: 'refused', reason: 'link_expired' };
    const linking = { provider: pending.identity.connectorId, subject: pending.identity.subject, ...(clientId ? { clientId } : {}) };
    const proved = await findIdentity(tx, proof.connectorId, proof.subject);
    if (!proved || !pending.candidates.includes(proved.accountId)) {
      await recordAudit(tx, { type: 'link.refused', reason: 'proof_mismatch', candidates: pending.candidates, ...linking });
      return { kind: 'refused', reason: 'proof_mismatch' };
    }
    if (proved.account.disabledAt || proved.account.retiredAt) {
      await recordAudit(tx, { type: 'login.refused', accountId: proved.accountId, reason: 'account_disabled', ...linking });
      return { kind: 'refused', reason: 'account_disabled' };
    }
    const now = new Date();
    await updateIdentityAtLogin(tx, proved.id, proof, now);
    await addIdentityToAccount(tx, proved.accountId, pending.identity, now);
    await deletePendingLink(tx, pending.id);
    await recordAudit(tx, { type: 'identity.linked', accountId: proved.accountId, how: 'proved', provedWith: proof.connectorId, ...linking });
    await adoptEmailIfUnvouched(tx, proved.accountId, pending.identity);
    await recordAudit(tx, { type: 'login', accountId: proved.accountId, ...linking });
    return { kind: 'linked', accountId: proved.accountId };
  });
}

export type SelfLinkOutcome =
  | { kind: 'linked' }
  | { kind: 'already-linked' }
  | { kind: 'refused'; reason: 'identity_in_use' | 'account_disabled' };

/** From the Account page: the signed-in person adds another upstream identity. */
export function linkToSignedInAccount(db: Db, accountId: string, identity: UpstreamIdentity): Promise<SelfLinkOutcome> {
  // Two links of one identity at once (two tabs): the loser runs again and finds it linked.
  return retryOnUniqueViolation(() => db.$transaction(async (tx): Promise<SelfLinkOutcome> => {
    const who = { provider: identity.connectorId, subject: identity.subject };
    const account = await findAccountState(tx, accountId);
    if (!account || account.disabledAt || account.retiredAt) return { kind: 'refused', reason: 'account_disabled' };
    const existing = await findIdentity(tx, identity.connectorId, identity.subject);
    if (existing?.accountId === accountId) {
      await updateIdentityAtLogin(tx, existing.id, identity, new Date());
      return { kind: 'already-linked' };
    }
    if (existing) {
      // Moving it would take it from another account; merging two accounts is an admin's decision.
      await recordAudit(tx, { type: 'link.refused', accountId, reason: 'identity_in_use', ...who });
      return { kind: 'refused', reason: 'identity_in_use' };
    }
    await addIdentityToAccount(tx, accountId, identity, new Date());
    await recordAudit(tx, { type: 'identity.linked', accountId, how: 'self-service', ...who });
    await adoptEmailIfUnvouched(tx, accountId, identity);
    return { kind: 'linked' };
  }));
}

export type UnlinkOutcome = { kind: 'unlinked' } | { kind: 'refused'; reason: 'last_identity' | 'not_found' };

/** Removes one identity from an account, never its last one (the account could not sign in again). */
export function unlinkIdentity(db: Db, accountId: string, identityId: string, actor?: string): Promise<UnlinkOutcome> {
  return db.$transaction(async (tx): Promise<UnlinkOutcome> => {
    // Two unlinks at once must not both see two identities and leave none.
    await lockAccount(tx, accountId);
    const identities = await tx.identity.findMany({ where: { accountId }, select: { id: true, provider: true, subject: true } });
    const target = identities.find((i) => i.id === identityId);
    if (!target) return { kind: 'refused', reason: 'not_found' };
    if (identities.length === 1) return { kind: 'refused', reason: 'last_identity' };
    await tx.identity.delete({ where: { id: identityId } });
    await recordAudit(tx, { type: 'identity.unlinked', accountId, provider: target.provider, subject: target.subject, ...(actor ? { actor } : {}) });
    await reconcilePrimaryEmail(tx, accountId, actor);
    return { kind: 'unlinked' };
  });
}

export type PrimaryEmailOutcome = { kind: 'done'; email: string } | { kind: 'refused'; reason: 'account_not_found' | 'email_not_verified' };

/**
 * The person (or an admin, `actor`) chooses the email apps see, among the addresses the
 * account's own identities verified: anything else would let an account claim an
 * address nobody proved it owns.
 */
export function choosePrimaryEmail(db: Db, accountId: string, address: string, actor?: string): Promise<PrimaryEmailOutcome> {
  return db.$transaction(async (tx): Promise<PrimaryEmailOutcome> => {
    // Not chosen while an unlink is taking away the identity that verifies it.
    await lockAccount(tx, accountId);
    const account = await findAccountState(tx, accountId);
    if (!account || account.retiredAt) return { kind: 'refused', reason: 'account_not_found' };
    const email = canonicalEmail(address);
    if (!email || !(await findVerifiedEmails(tx, accountId)).includes(email)) return { kind: 'refused', reason: 'email_not_verified' };
    const previous = (await findPrimaryEmail(tx, accountId)) ?? null;
    if (previous !== email) {
      await setPrimaryEmail(tx, accountId, email);
      await recordAudit(tx, { type: 'account.email', accountId, email, previous, how: actor ? 'admin' : 'self-service', ...(actor ? { actor } : {}) });
    }
    return { kind: 'done', email };
  });
}

/**
 * When no identity of the account vouches for its primary email (it has none yet, or the
 * address changed upstream), this identity's verified address takes its place.
 */
export async function adoptEmailIfUnvouched(tx: Tx, accountId: string, identity: UpstreamIdentity): Promise<void> {
  const email = adoptableEmail(identity);
  if (!email) return;
  const previous = (await findPrimaryEmail(tx, accountId)) ?? null;
  if (previous === email || (previous && (await findVerifiedEmails(tx, accountId)).includes(previous))) return;
  await setPrimaryEmail(tx, accountId, email);
  await recordAudit(tx, { type: 'account.email', accountId, email, previous, how: 'adopted', provider: identity.connectorId, subject: identity.subject });
}

/**
 * After identities left the account (unlink) or joined it (merge): when no identity
 * verifies the primary email any more, or there is none, the first verified address
 * becomes primary. With no verified address left, the old one stays (apps see it unverified).
 */
export async function reconcilePrimaryEmail(tx: Tx, accountId: string, actor?: string): Promise<void> {
  const previous = (await findPrimaryEmail(tx, accountId)) ?? null;
  const verified = await findVerifiedEmails(tx, accountId);
  if ((previous && verified.includes(previous)) || verified.length === 0) return;
  await setPrimaryEmail(tx, accountId, verified[0]!);
  await recordAudit(tx, { type: 'account.email', accountId, email: verified[0]!, previous, how: 'reconciled', ...(actor ? { actor } : {}) });
}

async function retryOnUniqueViolation<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    // Two first logins of one identity racing: the loser runs again and finds the winner's row.
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return run();
    throw err;
  }
}
