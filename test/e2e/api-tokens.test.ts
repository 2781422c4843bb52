import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { createApi } from '../../examples/verify-api-token.ts';
import { DANA } from '../fakes/fake-upstreams.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Access tokens for APIs (RFC 8707 resource indicators, RFC 9068 JWTs), checked by the
 * README's own API example (examples/verify-api-token.ts) running as a real HTTP server.
 * APP ("wiki") is first-party here; DANA's groups are engineering and admins.
 */
const ORDERS = 'https://orders.example/';
const REPORTS = 'https://reports.example/';
const LEGACY = 'https://legacy.example/';
const PRIVATE = 'https://private.example/';
const REPORTING = { clientId: 'reporting', clientSecret: 'reporting-secret-0123456789' } as const;
/** A third-party app: its people see a consent page. */
const PARTNER = { clientId: 'partner', clientSecret: 'partner-secret-0123456789' } as const;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function callApi(api: string, token: string): Promise<Response> {
  return fetch(api, { headers: { authorization: `Bearer ${token}` } });
}

/** DANA signs in to the app with `params` and the app redeems the code with `tokenParams` (e.g. `resource`). */
async function signIn(rp: oidc.Configuration, params: Record<string, string>, tokenParams: Record<string, string> = {}) {
  const req = await buildAuthRequest(rp, params);
  const browser = new Browser();
  const back = await chooseUpstream(browser, await browser.visit(req.url), 'oidc', DANA.sub);
  assert.ok(back.url.searchParams.get('code'), back.url.href);
  return oidc.authorizationCodeGrant(rp, back.url, { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce, idTokenExpected: true }, tokenParams);
}

describe('when APIs are declared as resource servers', () => {
  let s: Scenario;
  let wiki: oidc.Configuration;
  let reporting: oidc.Configuration;
  let ordersApi: string;
  let reportsApi: string;
  const servers: Server[] = [];
  before(async () => {
    s = await startScenario({
      with: ['oidc'],
      client: { firstParty: true, groupsFilter: { names: ['engineering'] } },
      otherClients: [
        { clientId: REPORTING.clientId, clientSecret: REPORTING.clientSecret, redirectUris: [APP.redirectUri], grantTypes: ['client_credentials'] },
        { clientId: PARTNER.clientId, clientSecret: PARTNER.clientSecret, redirectUris: [APP.redirectUri] },
      ],
      config: {
        resourceServers: [
          { identifier: ORDERS, scopes: ['orders:read', 'orders:write'] },
          { identifier: REPORTS, scopes: ['reports:read'], accessTokenLifetime: 120 },
          { identifier: LEGACY, scopes: ['legacy:read'], accessTokenFormat: 'opaque' },
          { identifier: PRIVATE, scopes: ['private:read'], clients: [REPORTING.clientId] },
        ],
      },
    });
    wiki = await discoverDoorman(s.doorman.url);
    reporting = await discoverDoorman(s.doorman.url, REPORTING);
    const issuer = s.doorman.url;
    servers.push(createApi({ issuer, audience: ORDERS, requiredScope: 'orders:read' }), createApi({ issuer, audience: REPORTS, requiredScope: 'reports:read' }));
    [ordersApi, reportsApi] = await Promise.all(servers.map(listen)) as [string, string];
  });
  after(async () => {
    for (const server of servers) server.close();
    await s.close();
  });

  it('then a code redeemed for an API gives an RFC 9068 JWT that the README\'s API accepts offline', async () => {
    const tokens = await signIn(wiki, { scope: 'openid groups orders:read orders:write', resource: ORDERS }, { resource: ORDERS });
    assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.iss, s.doorman.url);
    assert.equal(claims.aud, ORDERS);
    assert.equal(claims.client_id, APP.clientId);
    assert.equal(claims.sub, tokens.claims()!.sub);
    assert.equal(claims.scope, 'orders:read orders:write');
    assert.deepEqual(claims.groups, ['engineering'], 'groups asked for, filtered as this app sees them');
    assert.equal(claims.exp! - claims.iat!, 600, 'the API\'s default lifetime');
    const res = await callApi(ordersApi, tokens.access_token);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { sub: claims.sub, clientId: APP.clientId, groups: ['engineering'] });
  });

  it('then a token for one API is refused by another (aud), and by Doorman\'s userinfo', async () => {
    const tokens = await signIn(wiki, { scope: 'openid orders:read', resource: ORDERS }, { resource: ORDERS });
    assert.equal((await callApi(reportsApi, tokens.access_token)).status, 401);
    const userinfo = await fetch(`${s.doorman.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 401);
    const admin = await fetch(`${s.doorman.url}/admin/api/accounts`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(admin.status, 401, 'nor the admin API');
    // A JWT is not stored: APIs verify it themselves, and oidc-provider says so at introspection.
    await assert.rejects(oidc.tokenIntrospection(wiki, tokens.access_token), { error: 'unsupported_token_type' });
  });

  it('then without the groups scope the API token has no groups, and the ID token sign-in still reaches userinfo', async () => {
    const tokens = await signIn(wiki, { scope: 'openid orders:read', resource: ORDERS });
    assert.equal(tokens.access_token.split('.').length, 1, 'no resource at the token endpoint with openid: an opaque token for userinfo');
    const userinfo = await oidc.fetchUserInfo(wiki, tokens.access_token, tokens.claims()!.sub);
    assert.equal(userinfo.sub, tokens.claims()!.sub);
    const forApi = await signIn(wiki, { scope: 'openid orders:read', resource: ORDERS }, { resource: ORDERS });
    assert.equal(decodeJwt(forApi.access_token).groups, undefined);
  });

  it('then a refresh naming the API gives a new JWT for it, with the API\'s lifetime', async () => {
    const tokens = await signIn(wiki, { scope: 'openid offline_access reports:read', resource: REPORTS });
    assert.ok(tokens.refresh_token);
    const refreshed = await oidc.refreshTokenGrant(wiki, tokens.refresh_token, { resource: REPORTS });
    const claims = decodeJwt(refreshed.access_token);
    assert.equal(claims.aud, REPORTS);
    assert.equal(claims.scope, 'reports:read');
    assert.equal(claims.exp! - claims.iat!, 120);
    assert.equal((await callApi(reportsApi, refreshed.access_token)).status, 200);
    await assert.rejects(oidc.refreshTokenGrant(wiki, refreshed.refresh_token!, { resource: ORDERS }), { error: 'invalid_target' }, 'an API not in the grant');
  });

  it('then groups reach a refreshed API token only while the refresh keeps the groups scope', async () => {
    const tokens = await signIn(wiki, { scope: 'openid groups offline_access reports:read', resource: REPORTS });
    const withGroups = await oidc.refreshTokenGrant(wiki, tokens.refresh_token!, { resource: REPORTS });
    assert.deepEqual(decodeJwt(withGroups.access_token).groups, ['engineering']);
    const narrowed = await oidc.refreshTokenGrant(wiki, withGroups.refresh_token!, { resource: REPORTS, scope: 'openid offline_access reports:read' });
    assert.equal(decodeJwt(narrowed.access_token).groups, undefined);
    assert.equal(decodeJwt(narrowed.access_token).scope, 'reports:read');
  });

  it('then client_credentials gives an allowed app a token for the API with its own client id as sub', async () => {
    const tokens = await oidc.clientCredentialsGrant(wiki, { scope: 'orders:read', resource: ORDERS });
    const claims = decodeJwt(tokens.access_token);
    assert.equal(claims.sub, APP.clientId);
    assert.equal(claims.client_id, APP.clientId);
    assert.equal(claims.groups, undefined);
    assert.equal(claims.exp! - claims.iat!, 600);
    assert.equal((await callApi(ordersApi, tokens.access_token)).status, 200);
    const onlyReporting = await oidc.clientCredentialsGrant(reporting, { scope: 'private:read', resource: PRIVATE });
    assert.equal(decodeJwt(onlyReporting.access_token).aud, PRIVATE);
  });

  it('then scopes the API does not declare are dropped and the token response says what was granted', async () => {
    const tokens = await oidc.clientCredentialsGrant(wiki, { scope: 'orders:read reports:read made-up', resource: ORDERS });
    assert.equal(tokens.scope, 'orders:read');
    assert.equal(decodeJwt(tokens.access_token).scope, 'orders:read');
    const nothing = await oidc.clientCredentialsGrant(wiki, { scope: 'reports:read', resource: ORDERS });
    assert.equal((await callApi(ordersApi, nothing.access_token)).status, 403, 'no scope of the API: the API refuses');
  });

  it('then an unknown API, a near-miss spelling, a fragment, or an API the app may not use is invalid_target', async () => {
    const lookalikes = ['https://orders.example', 'https://ORDERS.example/', 'https://orders.example/\u200b', 'https://orders.example/%2e', 'https://orders.example/#x'];
    for (const resource of ['https://unknown.example/', ...lookalikes, 'not a uri', `https://orders.example/${'a'.repeat(20000)}`, PRIVATE]) {
      await assert.rejects(oidc.clientCredentialsGrant(wiki, { scope: 'orders:read', resource }), { error: 'invalid_target' }, resource.slice(0, 60));
    }
    const two = new URLSearchParams([['scope', 'orders:read reports:read'], ['resource', ORDERS], ['resource', REPORTS]]);
    await assert.rejects(oidc.clientCredentialsGrant(wiki, two), { error: 'invalid_target' }, 'one token is for one API');
    const req = await buildAuthRequest(wiki, { scope: 'openid', resource: 'https://unknown.example/' });
    const page = await new Browser().visit(req.url, APP.redirectUri);
    assert.equal(new URL(page.url).searchParams.get('error'), 'invalid_target');
  });

  it('then a third-party app\'s consent page names the API scopes it asks for, and its token carries only those allowed', async () => {
    const partner = await discoverDoorman(s.doorman.url, PARTNER);
    const req = await buildAuthRequest(partner, { scope: 'openid orders:read', resource: ORDERS });
    const browser = new Browser();
    const consent = await chooseUpstream(browser, await browser.visit(req.url), 'oidc', DANA.sub);
    assert.match(consent.body, /orders:read/, 'the API scope is shown to the person');
    const back = await browser.submit(consent, '/consent', {}, APP.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(partner, back.url, { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce }, { resource: ORDERS });
    assert.equal(decodeJwt(tokens.access_token).scope, 'orders:read');
    assert.equal((await callApi(ordersApi, tokens.access_token)).status, 200);
  });

  it('then an opaque-format API gets a stored token with its audience, which userinfo refuses and introspection describes', async () => {
    const tokens = await oidc.clientCredentialsGrant(wiki, { scope: 'legacy:read', resource: LEGACY });
    assert.equal(tokens.access_token.split('.').length, 1);
    const introspected = await oidc.tokenIntrospection(wiki, tokens.access_token);
    assert.equal(introspected.active, true);
    assert.equal(introspected.aud, LEGACY);
    const userinfo = await fetch(`${s.doorman.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 401);
  });
});

it('when the README shows how an API verifies tokens, then it is the code this test runs', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const example = readFileSync(new URL('../../examples/verify-api-token.ts', import.meta.url), 'utf8');
  assert.ok(readme.includes(`\`\`\`ts\n${example}\`\`\``), 'README must contain examples/verify-api-token.ts verbatim');
});
