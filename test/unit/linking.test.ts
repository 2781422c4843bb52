import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideLink, type LinkCandidate, type LinkDecision, type LinkPolicy } from '../../src/accounts/linking.ts';
import type { UpstreamIdentity } from '../../src/upstreams/connector.ts';

const identity = (email: string | undefined, emailVerified: boolean): UpstreamIdentity => ({
  connectorId: 'facebook', subject: '1', emailVerified, groups: [], raw: {}, ...(email ? { email } : {}),
});
const verifiedA: LinkCandidate = { accountId: 'A', emailVerified: true };
const unverifiedB: LinkCandidate = { accountId: 'B', emailVerified: false };
const verifiedC: LinkCandidate = { accountId: 'C', emailVerified: true };
const open: LinkPolicy = { autoLink: false, allowSignup: true };
const auto: LinkPolicy = { autoLink: true, allowSignup: true };

describe('decideLink', () => {
  const table: [string, UpstreamIdentity, LinkCandidate[], LinkPolicy, LinkDecision][] = [
    ['no email, sign-up allowed → create', identity(undefined, false), [verifiedA], open, { kind: 'create' }],
    ['no candidates → create', identity('a@x', true), [], auto, { kind: 'create' }],
    ['no candidates, sign-up off → refuse', identity('a@x', true), [], { autoLink: true, allowSignup: false }, { kind: 'refuse', reason: 'signup_disabled' }],
    ['candidate, autoLink off → offer (prove)', identity('a@x', true), [verifiedA], open, { kind: 'offer-link', accountIds: ['A'], reason: 'auto_link_off' }],
    ['autoLink on, our email unverified → offer, never auto', identity('a@x', false), [verifiedA], auto, { kind: 'offer-link', accountIds: ['A'], reason: 'email_unverified' }],
    ['autoLink on, candidate unverified → offer', identity('a@x', true), [unverifiedB], auto, { kind: 'offer-link', accountIds: ['B'], reason: 'candidate_unverified' }],
    ['autoLink on, both verified → auto-link', identity('a@x', true), [verifiedA], auto, { kind: 'auto-link', accountId: 'A' }],
    ['autoLink on, one verified among several → auto-link to the verified one', identity('a@x', true), [unverifiedB, verifiedA], auto, { kind: 'auto-link', accountId: 'A' }],
    ['autoLink on, two verified accounts → offer, person chooses by proving', identity('a@x', true), [verifiedA, verifiedC], auto, { kind: 'offer-link', accountIds: ['A', 'C'], reason: 'several_candidates' }],
    ['sign-up off does not block linking an existing account', identity('a@x', true), [verifiedA], { autoLink: false, allowSignup: false }, { kind: 'offer-link', accountIds: ['A'], reason: 'auto_link_off' }],
  ];
  for (const [name, who, candidates, policy, expected] of table) {
    it(`when ${name}`, () => assert.deepEqual(decideLink(who, candidates, policy), expected));
  }
});
