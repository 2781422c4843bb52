import type { UpstreamIdentity } from '../upstreams/connector.ts';

/**
 * What to do with an upstream identity Doorman has never seen. Pure: the caller loads the
 * candidates and carries out the decision. The rule that keeps accounts safe: an email
 * alone never gives access to an existing account. Either the person proves they own that
 * account (by signing in with one of its identities), or the operator has opted in to
 * automatic linking for this upstream and BOTH sides' emails are verified by their
 * upstreams (an unverified or unverifiable email, e.g. Facebook's, is a claim, not a proof).
 */

/** An existing account that has an identity with the same email. */
export interface LinkCandidate {
  accountId: string;
  /** True when at least one of its identities with that email was verified by its upstream. */
  emailVerified: boolean;
}

export interface LinkPolicy {
  /** Upstream opted in to automatic linking (upstreams[].autoLink). */
  autoLink: boolean;
  /** New accounts may be created (upstreams[].allowSignup and clients[].allowSignup). */
  allowSignup: boolean;
}

export type LinkDecision =
  | { kind: 'create' }
  | { kind: 'auto-link'; accountId: string }
  | { kind: 'offer-link'; accountIds: string[]; reason: OfferReason }
  | { kind: 'refuse'; reason: 'signup_disabled' };

export type OfferReason = 'auto_link_off' | 'email_unverified' | 'candidate_unverified' | 'several_candidates';

export function decideLink(identity: UpstreamIdentity, candidates: readonly LinkCandidate[], policy: LinkPolicy): LinkDecision {
  if (!identity.email || candidates.length === 0) {
    return policy.allowSignup ? { kind: 'create' } : { kind: 'refuse', reason: 'signup_disabled' };
  }
  const accountIds = candidates.map((c) => c.accountId);
  if (!policy.autoLink) return { kind: 'offer-link', accountIds, reason: 'auto_link_off' };
  if (!identity.emailVerified) return { kind: 'offer-link', accountIds, reason: 'email_unverified' };
  const verified = candidates.filter((c) => c.emailVerified);
  if (verified.length === 0) return { kind: 'offer-link', accountIds, reason: 'candidate_unverified' };
  // Two accounts share a verified email (an admin created them, or autoLink was off then): a person must choose by proving.
  if (verified.length > 1) return { kind: 'offer-link', accountIds, reason: 'several_candidates' };
  return { kind: 'auto-link', accountId: verified[0]!.accountId };
}
