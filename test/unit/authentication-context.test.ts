import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acrValuesToAsk, canSatisfy, loginAuthentication, requiredAcrValues } from '../../src/auth-context/authentication-context.ts';
import { authenticationOf } from '../../src/upstreams/id-token-authentication.ts';

describe('when an upstream ID token carries amr and acr', () => {
  const cases: { name: string; idToken: Record<string, unknown>; listed: string[]; expected: ReturnType<typeof authenticationOf> }[] = [
    { name: 'RFC 8176 values pass, the listed acr too', idToken: { amr: ['pwd', 'mfa'], acr: 'mfa' }, listed: ['mfa'], expected: { amr: ['pwd', 'mfa'], acr: 'mfa' } },
    { name: 'an acr the operator did not list is dropped', idToken: { amr: ['pwd'], acr: 'gold' }, listed: ['mfa'], expected: { amr: ['pwd'] } },
    { name: 'non-strings, spaces, oversize and duplicates are dropped', idToken: { amr: ['otp', 1, 'a b', 'x'.repeat(65), 'otp', null], acr: 42 }, listed: ['42'], expected: { amr: ['otp'] } },
    { name: 'a string amr (not a list) is ignored', idToken: { amr: 'mfa' }, listed: [], expected: { amr: [] } },
    { name: 'at most 16 values', idToken: { amr: Array.from({ length: 40 }, (_, i) => `m${i}`) }, listed: [], expected: { amr: Array.from({ length: 16 }, (_, i) => `m${i}`) } },
  ];
  for (const c of cases) it(`then ${c.name}`, () => assert.deepEqual(authenticationOf(c.idToken, c.listed), c.expected));
});

describe('when an app requires acr values', () => {
  it('then they come from acr_values, split on spaces', () => {
    assert.deepEqual(requiredAcrValues({ acr_values: 'mfa  urn:loa:2' }), ['mfa', 'urn:loa:2']);
    assert.deepEqual(requiredAcrValues({}), []);
  });
  it('then an upstream can satisfy them when it lists one, and is asked for those only', () => {
    assert.equal(canSatisfy(['mfa'], ['urn:loa:2', 'mfa']), true);
    assert.equal(canSatisfy([], ['mfa']), false);
    assert.equal(canSatisfy([], []), true);
    assert.deepEqual(acrValuesToAsk(['mfa', 'hwk'], ['hwk', 'gold', 'mfa']), ['hwk', 'mfa']);
  });
  it('then the login has amr fed plus the upstream\'s, and is unmet without a required acr', () => {
    assert.deepEqual(loginAuthentication(undefined, []), { amr: ['fed'] });
    assert.deepEqual(loginAuthentication({ amr: ['fed', 'mfa'], acr: 'mfa' }, ['mfa']), { amr: ['fed', 'mfa'], acr: 'mfa' });
    assert.ok('unmet' in loginAuthentication({ amr: ['pwd'] }, ['mfa']));
    assert.ok('unmet' in loginAuthentication({ amr: ['mfa'], acr: 'pwd-only' }, ['mfa']));
    assert.ok('unmet' in loginAuthentication(undefined, ['mfa']), 'an upstream without an ID token can never meet an acr');
  });
});
