import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';

/**
 * PKCE per client (RFC 9700 §2.1.1): public clients and `pkce: required` always need a
 * code_challenge; a confidential client may instead send an OpenID Connect nonce, and a
 * challenge it sends is always enforced.
 */
const STRICT = { clientId: 'strict', clientSecret: APP.clientSecret } as const;
const PUBLIC = { clientId: 'spa' } as const;

describe('when apps sign in with or without PKCE', () => {
  let s: Scenario;
  let rp: oidc.Configuration;

  before(async () => {
    s = await startScenario({
      moreClients: [
        { clientId: STRICT.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri], pkce: 'required' },
        { clientId: PUBLIC.clientId, redirectUris: [APP.redirectUri] },
      ],
    });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  /** The authorization request as the app would send it, with exactly `params` (no PKCE added). */
  function authUrl(config: oidc.Configuration, params: Record<string, string>): URL {
    return oidc.buildAuthorizationUrl(config, { redirect_uri: APP.redirectUri, scope: 'openid email', state: 'st', ...params });
  }

  /** Where the browser lands: the app's redirect URI with an error, or Doorman's login page. */
  async function errorAtApp(url: URL): Promise<URLSearchParams> {
    const back = await new Browser().visit(url, APP.redirectUri);
    assert.ok(back.url.href.startsWith(APP.redirectUri), `expected a redirect to the app, got ${back.status} ${back.body.slice(0, 300)}`);
    return back.url.searchParams;
  }

  it('then a confidential client with neither a code_challenge nor a nonce gets invalid_request', async () => {
    const error = await errorAtApp(authUrl(rp, {}));
    assert.equal(error.get('error'), 'invalid_request');
    assert.match(error.get('error_description') ?? '', /nonce/);
    assert.equal(error.get('state'), 'st');
  });

  it('then a confidential client without a code_challenge and without scope openid gets invalid_request', async () => {
    const error = await errorAtApp(authUrl(rp, { scope: 'email', nonce: oidc.randomNonce() }));
    assert.equal(error.get('error'), 'invalid_request');
  });

  it('then a confidential client with a nonce and no PKCE signs in, and the ID token carries the nonce', async () => {
    const browser = new Browser();
    const nonce = oidc.randomNonce();
    const back = await chooseUpstream(browser, await browser.visit(authUrl(rp, { nonce })), 'google', ALICE.sub, {}, APP.redirectUri);
    const consent = back.url.href.startsWith(APP.redirectUri) ? back : await browser.submit(back, '/consent', {}, APP.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(rp, consent.url, { expectedState: 'st', expectedNonce: nonce, idTokenExpected: true });
    assert.equal(tokens.claims()!.nonce, nonce);
  });

  it('then a code asked for with a code_challenge cannot be redeemed without the verifier (no downgrade)', async () => {
    const browser = new Browser();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = authUrl(rp, { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', nonce: oidc.randomNonce() });
    const back = await chooseUpstream(browser, await browser.visit(url), 'google', ALICE.sub, {}, APP.redirectUri);
    const atApp = back.url.href.startsWith(APP.redirectUri) ? back : await browser.submit(back, '/consent', {}, APP.redirectUri);
    const code = atApp.url.searchParams.get('code')!;
    const res = await fetch(rp.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${APP.clientId}:${APP.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: APP.redirectUri }),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json() as { error: string }).error, 'invalid_grant');
  });

  it('then the plain code_challenge_method is refused', async () => {
    const error = await errorAtApp(authUrl(rp, { code_challenge: oidc.randomPKCECodeVerifier(), code_challenge_method: 'plain', nonce: oidc.randomNonce() }));
    assert.equal(error.get('error'), 'invalid_request');
    assert.match(error.get('error_description') ?? '', /code_challenge_method/);
  });

  it('then a public client without PKCE is refused, even with a nonce', async () => {
    const spa = await discoverDoorman(s.doorman.url, PUBLIC);
    const error = await errorAtApp(authUrl(spa, { nonce: oidc.randomNonce() }));
    assert.equal(error.get('error'), 'invalid_request');
    assert.match(error.get('error_description') ?? '', /PKCE/);
  });

  it('then a confidential client configured with pkce: required is refused without a code_challenge, even with a nonce', async () => {
    const strict = await discoverDoorman(s.doorman.url, STRICT);
    const error = await errorAtApp(authUrl(strict, { nonce: oidc.randomNonce() }));
    assert.equal(error.get('error'), 'invalid_request');
    assert.match(error.get('error_description') ?? '', /PKCE/);
  });
});
