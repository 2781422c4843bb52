/**
 * What to do with an upstream identity Doorman has never seen. Pure: the caller loads the
 * candidates and carries out the decision. The rules that keep accounts safe:
 *
 * - an email alone never gives access to an existing account. Either the person proves
 *   they own that account (by signing in with one of its identities), or the operator has
 *   opted in to automatic linking for this upstream and BOTH sides' emails are verified
 *   by their upstreams (an unverified email, e.g. Facebook's, is a claim, not a proof);
 * - emails are compared only in canonical form (./email.ts): an address without one
 *   matches nothing, so it neither links nor is offered a link;
 * - an unverified email never blocks or captures the person who owns it: someone arriving
 *   with that address verified is not sent to prove an account that merely claims it,
 *   and gets an account of her own (the collision is audited for an admin).
 */

/** The first-time identity, as far as linking is concerned. */
export interface LinkArrival {
  /** Its email in canonical form; undefined when it has none or the address has no canonical form. */
  email: string | undefined;
  /** Its upstream said the email is verified. */
  emailVerified: boolean;
}

/** An existing account that has an identity with the same canonical email. */
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
  /** `unverifiedHolders`: accounts that claim the same address without having verified it. */
  | { kind: 'create'; unverifiedHolders?: string[] }
  | { kind: 'auto-link'; accountId: string }
  | { kind: 'offer-link'; accountIds: string[]; reason: OfferReason }
  | { kind: 'refuse'; reason: 'signup_disabled' };

export type OfferReason = 'auto_link_off' | 'email_unverified' | 'several_candidates';

export function decideLink(arrival: LinkArrival, candidates: readonly LinkCandidate[], policy: LinkPolicy): LinkDecision {
  if (!arrival.email || candidates.length === 0) return createOrRefuse(policy);
  if (!arrival.emailVerified) {
    const accountIds = candidates.map((c) => c.accountId);
    return { kind: 'offer-link', accountIds, reason: policy.autoLink ? 'email_unverified' : 'auto_link_off' };
  }
  // A verified address outranks every unverified claim to it: those accounts are not hers to prove.
  const verified = candidates.filter((c) => c.emailVerified).map((c) => c.accountId);
  if (verified.length === 0) {
    const decision = createOrRefuse(policy);
    return decision.kind === 'create' ? { kind: 'create', unverifiedHolders: candidates.map((c) => c.accountId) } : decision;
  }
  if (!policy.autoLink) return { kind: 'offer-link', accountIds: verified, reason: 'auto_link_off' };
  // Two accounts share a verified email (an admin created them, or autoLink was off then): a person must choose by proving.
  if (verified.length > 1) return { kind: 'offer-link', accountIds: verified, reason: 'several_candidates' };
  return { kind: 'auto-link', accountId: verified[0]! };
}

function createOrRefuse(policy: LinkPolicy): LinkDecision {
  return policy.allowSignup ? { kind: 'create' } : { kind: 'refuse', reason: 'signup_disabled' };
}
