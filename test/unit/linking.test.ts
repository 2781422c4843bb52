import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideLink, type LinkArrival, type LinkCandidate, type LinkDecision, type LinkPolicy } from '../../src/accounts/linking.ts';

const arrival = (email: string | undefined, emailVerified: boolean): LinkArrival => ({ email, emailVerified });
const verifiedA: LinkCandidate = { accountId: 'A', emailVerified: true };
const unverifiedB: LinkCandidate = { accountId: 'B', emailVerified: false };
const verifiedC: LinkCandidate = { accountId: 'C', emailVerified: true };
const unverifiedD: LinkCandidate = { accountId: 'D', emailVerified: false };
const open: LinkPolicy = { autoLink: false, allowSignup: true };
const auto: LinkPolicy = { autoLink: true, allowSignup: true };
const closed: LinkPolicy = { autoLink: false, allowSignup: false };

describe('decideLink', () => {
  const table: [string, LinkArrival, LinkCandidate[], LinkPolicy, LinkDecision][] = [
    ['no email (or none in canonical form), sign-up allowed → create', arrival(undefined, true), [], auto, { kind: 'create' }],
    ['no candidates → create', arrival('a@x', true), [], auto, { kind: 'create' }],
    ['no candidates, sign-up off → refuse', arrival('a@x', true), [], { autoLink: true, allowSignup: false }, { kind: 'refuse', reason: 'signup_disabled' }],
    ['candidate, autoLink off → offer (prove)', arrival('a@x', true), [verifiedA], open, { kind: 'offer-link', accountIds: ['A'], reason: 'auto_link_off' }],
    ['autoLink on, our email unverified → offer, never auto', arrival('a@x', false), [verifiedA], auto, { kind: 'offer-link', accountIds: ['A'], reason: 'email_unverified' }],
    ['autoLink off, our email unverified → offer every holder', arrival('a@x', false), [verifiedA, unverifiedB], open, { kind: 'offer-link', accountIds: ['A', 'B'], reason: 'auto_link_off' }],
    ['autoLink on, both verified → auto-link', arrival('a@x', true), [verifiedA], auto, { kind: 'auto-link', accountId: 'A' }],
    ['autoLink on, one verified among several → auto-link to the verified one', arrival('a@x', true), [unverifiedB, verifiedA], auto, { kind: 'auto-link', accountId: 'A' }],
    ['autoLink on, two verified accounts → offer, person chooses by proving', arrival('a@x', true), [verifiedA, verifiedC], auto, { kind: 'offer-link', accountIds: ['A', 'C'], reason: 'several_candidates' }],
    ['sign-up off does not block linking an existing account', arrival('a@x', true), [verifiedA], closed, { kind: 'offer-link', accountIds: ['A'], reason: 'auto_link_off' }],
    // Issue #9 item 6: an account that only claims the address must not capture or block its verified owner.
    ['our email verified, the only holder unverified, autoLink off → her own account, collision noted', arrival('a@x', true), [unverifiedB], open, { kind: 'create', unverifiedHolders: ['B'] }],
    ['our email verified, the only holder unverified, autoLink on → her own account, collision noted', arrival('a@x', true), [unverifiedB], auto, { kind: 'create', unverifiedHolders: ['B'] }],
    ['our email verified, two unverified holders → her own account, both noted', arrival('a@x', true), [unverifiedB, unverifiedD], open, { kind: 'create', unverifiedHolders: ['B', 'D'] }],
    ['our email verified, verified and unverified holders, autoLink off → offer only the verified one', arrival('a@x', true), [unverifiedB, verifiedA], open, { kind: 'offer-link', accountIds: ['A'], reason: 'auto_link_off' }],
    ['our email verified, only unverified holders, sign-up off → refuse (they are not hers)', arrival('a@x', true), [unverifiedB], closed, { kind: 'refuse', reason: 'signup_disabled' }],
  ];
  for (const [name, who, candidates, policy, expected] of table) {
    it(`when ${name}`, () => assert.deepEqual(decideLink(who, candidates, policy), expected));
  }
});
