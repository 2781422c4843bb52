import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { composeProfile, verifiedEmails, type ProfileSource } from '../../src/accounts/profile.ts';

const google: ProfileSource = { email: 'Alice@Example.com', emailCanonical: 'alice@example.com', emailVerified: true, name: 'Alice', picture: 'https://g/a', username: 'alice', groups: ['g'] };
const facebook: ProfileSource = { email: 'alice@example.com', emailCanonical: 'alice@example.com', emailVerified: false, name: 'Alice FB', picture: 'https://f/a', groups: [] };
const github: ProfileSource = { email: 'Octo@GitHub.example', emailCanonical: 'octo@github.example', emailVerified: true, name: 'Octo', username: 'octo', groups: ['gh:acme'] };
const kelvin: ProfileSource = { email: '\u212Aim@example.com', emailCanonical: null, emailVerified: true, name: 'Not Kim' };

describe('composeProfile', () => {
  it('when identities come in any login order, then only the primary email and link order matter', () => {
    const expected = { accountId: 'A', email: 'alice@example.com', emailVerified: true, name: 'Alice', picture: 'https://g/a', username: 'alice', groups: ['g', 'gh:acme'] };
    assert.deepEqual(composeProfile('A', 'alice@example.com', [google, facebook, github]), expected);
    assert.deepEqual(composeProfile('A', 'alice@example.com', [facebook, google, github]), expected,
      'the profile comes from the identity that verified the primary email, not the first one linked');
  });

  it('when the primary email is another verified address, then the profile comes from the identity that verified it', () => {
    assert.deepEqual(composeProfile('A', 'octo@github.example', [google, facebook, github]),
      { accountId: 'A', email: 'octo@github.example', emailVerified: true, name: 'Octo', username: 'octo', groups: ['g', 'gh:acme'] });
  });

  it('when no identity verifies the primary email any more, then it is shown unverified, with the first identity\'s profile', () => {
    assert.deepEqual(composeProfile('A', 'alice@example.com', [facebook]),
      { accountId: 'A', email: 'alice@example.com', emailVerified: false, name: 'Alice FB', picture: 'https://f/a', groups: [] });
  });

  it('when there is no primary email, then the first identity\'s address is shown unverified, even if its upstream said verified', () => {
    assert.deepEqual(composeProfile('K', null, [kelvin]), { accountId: 'K', email: '\u212Aim@example.com', emailVerified: false, name: 'Not Kim', groups: [] });
  });

  it('when the account has no identity, then it has no email', () => {
    assert.deepEqual(composeProfile('Z', null, []), { accountId: 'Z', email: null, emailVerified: false, groups: [] });
  });
});

describe('verifiedEmails', () => {
  it('when listing the addresses a person may choose, then only verified canonical ones, once each', () => {
    assert.deepEqual(verifiedEmails([google, facebook, github, kelvin, google]), ['alice@example.com', 'octo@github.example']);
  });
});
