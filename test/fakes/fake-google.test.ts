import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { GoogleLookalike } from '../../src/demo/google-lookalike.ts';
import { Browser } from '../helpers/browser.ts';
import { ALICE, GOOGLE_CLIENT, startFakeGoogle } from './fake-google.ts';

/** The fake is only worth testing against if it is as strict as Google. */
const REDIRECT = 'http://127.0.0.1:5999/upstream/google/callback';
const VERIFIER = 'v'.repeat(43);
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

describe('fake Google', () => {
  let google: GoogleLookalike;
  before(async () => { google = await startFakeGoogle([REDIRECT]); });
  after(() => google.close());

  async function issueCode(): Promise<string> {
    const browser = new Browser();
    const url = new URL('/o/oauth2/v2/auth', google.issuer);
    url.search = new URLSearchParams({ client_id: GOOGLE_CLIENT.clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid email', state: 's', nonce: 'n', code_challenge: CHALLENGE, code_challenge_method: 'S256' }).toString();
    const picker = await browser.visit(url);
    const back = await browser.submit(picker, '/decide', { sub: ALICE.sub }, REDIRECT);
    assert.equal(back.url.searchParams.get('state'), 's');
    return back.url.searchParams.get('code')!;
  }

  function exchange(form: Record<string, string>) {
    return fetch(new URL('/token', google.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', redirect_uri: REDIRECT, client_id: GOOGLE_CLIENT.clientId, client_secret: GOOGLE_CLIENT.clientSecret, code_verifier: VERIFIER, ...form }),
    });
  }

  it('when everything is right, then it returns an RS256 ID token with the nonce, verifiable with its JWKS', async () => {
    const res = await exchange({ code: await issueCode() });
    assert.equal(res.status, 200);
    const body = await res.json() as { id_token: string };
    const { payload, protectedHeader } = await jwtVerify(body.id_token, createRemoteJWKSet(new URL('/oauth2/v3/certs', google.issuer)), { issuer: google.issuer, audience: GOOGLE_CLIENT.clientId });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, ALICE.sub);
    assert.equal(payload.nonce, 'n');
  });

  it('when the redirect_uri is not registered, then it shows an error page and does not redirect', async () => {
    const url = new URL('/o/oauth2/v2/auth', google.issuer);
    url.search = new URLSearchParams({ client_id: GOOGLE_CLIENT.clientId, redirect_uri: 'http://127.0.0.1:5999/evil', response_type: 'code', scope: 'openid' }).toString();
    const page = await new Browser().request(url);
    assert.equal(page.status, 400);
    assert.equal(page.headers.get('location'), null);
    assert.match(page.body, /redirect_uri_mismatch/);
  });

  for (const [label, form, status, error] of [
    ['a wrong client secret', { client_secret: 'nope' }, 401, 'invalid_client'],
    ['a wrong PKCE verifier', { code_verifier: 'w'.repeat(43) }, 400, 'invalid_grant'],
    ['a different redirect_uri', { redirect_uri: 'http://127.0.0.1:5999/other' }, 400, 'redirect_uri_mismatch'],
  ] as const) {
    it(`when the code exchange has ${label}, then it is refused with ${error}`, async () => {
      const res = await exchange({ code: await issueCode(), ...form });
      assert.equal(res.status, status);
      assert.equal(((await res.json()) as { error: string }).error, error);
    });
  }

  it('when a code is used twice, then the second exchange is refused', async () => {
    const code = await issueCode();
    assert.equal((await exchange({ code })).status, 200);
    const again = await exchange({ code });
    assert.equal(again.status, 400);
    assert.equal(((await again.json()) as { error: string }).error, 'invalid_grant');
  });

  it('when a client revokes a token at its revocation endpoint, then it stops working, and revoking it again (or an unknown token) is 400 invalid_token', async () => {
    const discovery = await (await fetch(new URL('/.well-known/openid-configuration', google.issuer))).json() as { revocation_endpoint: string };
    const { access_token: accessToken } = await (await exchange({ code: await issueCode() })).json() as { access_token: string };
    const userinfo = () => fetch(new URL('/v1/userinfo', google.issuer), { headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal((await userinfo()).status, 200);
    const revoke = (token: string) => fetch(discovery.revocation_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
    assert.equal((await revoke(accessToken)).status, 200);
    assert.deepEqual(google.revocations.slice(-1), [ALICE.sub]);
    assert.equal((await userinfo()).status, 401);
    for (const token of [accessToken, 'ya29.unknown']) {
      const again = await revoke(token);
      assert.equal(again.status, 400);
      assert.equal(((await again.json()) as { error: string }).error, 'invalid_token');
    }
  });
});
