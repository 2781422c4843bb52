import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withClaimMapping } from '../../src/upstreams/claim-mapping.ts';
import type { UpstreamConnector, UpstreamIdentity } from '../../src/upstreams/connector.ts';
import { claimAt, stringClaim, stringListClaim } from '../../src/upstreams/settings.ts';

describe('claim paths', () => {
  const profile = { id: 42, picture: { data: { url: 'https://x/p.jpg' } }, groups: ['a', 7, 'b'], empty: '', nothing: null };
  it('when a path is dotted, then it walks into nested objects', () => {
    assert.equal(claimAt(profile, 'picture.data.url'), 'https://x/p.jpg');
    assert.equal(claimAt(profile, 'picture.data.missing'), undefined);
    assert.equal(claimAt(profile, 'nothing.deeper'), undefined);
  });
  it('when a claim is a number, then it is read as a string; empty strings count as absent', () => {
    assert.equal(stringClaim(profile, 'id'), '42');
    assert.equal(stringClaim(profile, 'empty'), undefined);
    assert.equal(stringClaim(profile, undefined), undefined);
  });
  it('when a list holds non-strings, then only the strings are kept', () => {
    assert.deepEqual(stringListClaim(profile, 'groups'), ['a', 'b']);
    assert.deepEqual(stringListClaim(profile, 'id'), []);
  });
});

describe('claim mapping', () => {
  const identity: UpstreamIdentity = { connectorId: 'gh', subject: '1', emailVerified: false, groups: ['acme', 'acme:core'], raw: {} };
  const connector: UpstreamConnector = {
    id: 'gh', type: 'github', displayName: 'GitHub',
    startLogin: async () => ({ url: new URL('https://example.com'), transaction: {} }),
    finishLogin: async () => ({ identity, tokens: { accessToken: 'at', scope: '' } }),
    refreshTokens: async () => ({ accessToken: 'at', scope: '' }),
  };
  const input = { callbackUrl: new URL('https://d/cb'), redirectUri: new URL('https://d/cb'), transaction: {} };
  it('when a groups prefix is set, then every group carries it', async () => {
    assert.deepEqual((await withClaimMapping(connector, { groupsPrefix: 'github:' }).finishLogin(input)).identity.groups, ['github:acme', 'github:acme:core']);
  });
  it('when no prefix is set, then groups are unchanged', async () => {
    assert.deepEqual((await withClaimMapping(connector, { groupsPrefix: '' }).finishLogin(input)).identity.groups, ['acme', 'acme:core']);
  });
});
