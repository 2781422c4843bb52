import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';

/**
 * Pushed authorization requests (RFC 9126) and DPoP (RFC 9449), driven by openid-client's
 * own support for both (README "Pushed authorization requests", "DPoP"); proofs built by
 * hand with jose only where the test needs a wrong or replayed one.
 */
const PAR_ONLY = { clientId: 'par-only', clientSecret: 'par-only-secret-0123456789', redirectUri: 'http://127.0.0.1:4997/callback' } as const;
const CLI = { clientId: 'cli', redirectUri: 'http://127.0.0.1:4996/callback' } as const;
const DPOP_ONLY = { clientId: 'dpop-only', clientSecret: 'dpop-only-secret-0123456789', redirectUri: 'http://127.0.0.1:4995/callback' } as const;

describe('when apps use pushed authorization requests and DPoP', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({
      client: { firstParty: true },
      otherClients: [
        { clientId: PAR_ONLY.clientId, clientSecret: PAR_ONLY.clientSecret, redirectUris: [PAR_ONLY.redirectUri], firstParty: true, requirePushedAuthorizationRequests: true },
        { clientId: CLI.clientId, redirectUris: [CLI.redirectUri], firstParty: true },
        { clientId: DPOP_ONLY.clientId, clientSecret: DPOP_ONLY.clientSecret, redirectUris: [DPOP_ONLY.redirectUri], firstParty: true, dpopBoundAccessTokens: true },
      ],
    });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  /** One login through the fake Google; `par` pushes the request first. Resolves to the redirect back and what to redeem it with. */
  async function authorize(config: oidc.Configuration, redirectUri: string, opts: { par?: boolean; scope?: string; DPoP?: oidc.DPoPHandle } = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const params = { redirect_uri: redirectUri, scope: opts.scope ?? 'openid email', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
    const url = opts.par ? await oidc.buildAuthorizationUrlWithPAR(config, params, opts.DPoP ? { DPoP: opts.DPoP } : undefined) : oidc.buildAuthorizationUrl(config, params);
    const browser = new Browser();
    const back = await chooseUpstream(browser, await browser.visit(url, redirectUri), 'google', ALICE.sub, {}, redirectUri);
    return { url, back, redeem: (DPoP?: oidc.DPoPHandle) => oidc.authorizationCodeGrant(config, back.url, { pkceCodeVerifier: verifier, expectedState: state }, undefined, DPoP ? { DPoP } : undefined) };
  }

  /** A DPoP proof for GET /me, made by hand (RFC 9449 §4.2). */
  async function proofFor(accessToken: string, key?: CryptoKeyPair, jti = randomUUID()): Promise<string> {
    const pair = key ?? await generateKeyPair('ES256');
    return new SignJWT({ htm: 'GET', htu: `${s.doorman.url}/me`, jti, ath: createHash('sha256').update(accessToken).digest('base64url') })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(pair.publicKey) })
      .setIssuedAt()
      .sign(pair.privateKey);
  }

  const userinfo = (accessToken: string, proof?: string, scheme = 'DPoP') =>
    fetch(`${s.doorman.url}/me`, { headers: { authorization: `${scheme} ${accessToken}`, ...(proof ? { dpop: proof } : {}) } });

  it('then discovery advertises the PAR endpoint and DPoP algorithms, and does not require PAR of everyone', () => {
    const meta = rp.serverMetadata();
    assert.equal(meta.pushed_authorization_request_endpoint, `${s.doorman.url}/request`);
    assert.ok(meta.dpop_signing_alg_values_supported?.includes('ES256'));
    assert.notEqual(meta.require_pushed_authorization_requests, true);
    assert.equal(meta.acr_values_supported, undefined, 'no upstream lists acrValues here');
    assert.ok(meta.claims_supported?.includes('amr') && !meta.claims_supported.includes('acr'));
  });

  it('then an openid-client app signs in with a pushed request: only client_id and request_uri travel through the browser', async () => {
    const { url, redeem } = await authorize(rp, APP.redirectUri, { par: true });
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    const tokens = await redeem();
    assert.equal(tokens.claims()!.email, undefined);
    assert.ok(tokens.access_token);
  });

  it('then a client that must push is refused a plain request with a clear invalid_request, and signs in with a pushed one', async () => {
    const parOnly = await discoverDoorman(s.doorman.url, PAR_ONLY);
    const plain = oidc.buildAuthorizationUrl(parOnly, { redirect_uri: PAR_ONLY.redirectUri, scope: 'openid', state: 'st', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const refused = await new Browser().visit(plain, PAR_ONLY.redirectUri);
    const error = refused.url.searchParams.get('error') ?? /invalid_request/.exec(refused.body)?.[0];
    assert.equal(error, 'invalid_request', refused.url.href);
    assert.match(refused.url.searchParams.get('error_description') ?? refused.body, /Pushed Authorization Request must be used/i);
    const { redeem } = await authorize(parOnly, PAR_ONLY.redirectUri, { par: true });
    assert.ok((await redeem()).access_token);
  });

  it('then a DPoP-bound access token works at userinfo with a proof of its key, and is refused without one, as a Bearer token, or with another key\'s proof', async () => {
    const key = await oidc.randomDPoPKeyPair('ES256');
    const DPoP = oidc.getDPoPHandle(rp, key);
    const { redeem } = await authorize(rp, APP.redirectUri, { par: true, DPoP });
    const tokens = await redeem(DPoP);
    assert.equal(tokens.token_type, 'dpop');
    const me = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub, { DPoP });
    assert.equal(me.sub, tokens.claims()!.sub);

    const without = await userinfo(tokens.access_token);
    assert.equal(without.status, 400);
    assert.match(without.headers.get('www-authenticate') ?? '', /error="invalid_request", error_description="`DPoP` header not provided"/);
    const asBearer = await userinfo(tokens.access_token, undefined, 'Bearer');
    assert.equal(asBearer.status, 401);
    const otherKey = await userinfo(tokens.access_token, await proofFor(tokens.access_token));
    assert.equal(otherKey.status, 401);
    assert.match(otherKey.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const right = await userinfo(tokens.access_token, await proofFor(tokens.access_token, key));
    assert.equal(right.status, 200);
  });

  it('then a code pushed with one DPoP key cannot be redeemed with another (a stolen code stays useless)', async () => {
    const DPoP = oidc.getDPoPHandle(rp, await oidc.randomDPoPKeyPair('ES256'));
    const { redeem } = await authorize(rp, APP.redirectUri, { par: true, DPoP });
    const thief = oidc.getDPoPHandle(rp, await oidc.randomDPoPKeyPair('ES256'));
    await assert.rejects(redeem(thief), (err: unknown) => err instanceof oidc.ResponseBodyError && err.error === 'invalid_grant');
  });

  it('then a DPoP proof used once is refused the second time, also when both arrive at once', async () => {
    const key = await oidc.randomDPoPKeyPair('ES256');
    const DPoP = oidc.getDPoPHandle(rp, key);
    const tokens = await (await authorize(rp, APP.redirectUri, { DPoP })).redeem(DPoP);
    const proof = await proofFor(tokens.access_token, key);
    assert.equal((await userinfo(tokens.access_token, proof)).status, 200);
    const replay = await userinfo(tokens.access_token, proof);
    assert.equal(replay.status, 401);
    assert.match(replay.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

    for (let round = 0; round < 5; round++) {
      const racing = await proofFor(tokens.access_token, key);
      const statuses = (await Promise.all(Array.from({ length: 4 }, () => userinfo(tokens.access_token, racing)))).map((r) => r.status);
      assert.equal(statuses.filter((st) => st === 200).length, 1, `round ${round}: ${statuses.join(' ')}`);
    }
  });

  it('then a public DPoP client\'s refresh token is bound to its key: refused without a proof or with another key', async () => {
    const cli = await discoverDoorman(s.doorman.url, CLI);
    const key = await oidc.randomDPoPKeyPair('ES256');
    const DPoP = oidc.getDPoPHandle(cli, key);
    const tokens = await (await authorize(cli, CLI.redirectUri, { scope: 'openid offline_access', DPoP })).redeem(DPoP);
    assert.ok(tokens.refresh_token);
    const tokenEndpoint = cli.serverMetadata().token_endpoint!;
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: CLI.clientId });
    const noProof = await fetch(tokenEndpoint, { method: 'POST', body: form });
    assert.equal(noProof.status, 400);
    assert.equal(((await noProof.json()) as { error: string }).error, 'invalid_grant');
    const otherHandle = oidc.getDPoPHandle(cli, await oidc.randomDPoPKeyPair('ES256'));
    await assert.rejects(oidc.refreshTokenGrant(cli, tokens.refresh_token, undefined, { DPoP: otherHandle }), (err: unknown) => err instanceof oidc.ResponseBodyError && err.error === 'invalid_grant');
    const refreshed = await oidc.refreshTokenGrant(cli, tokens.refresh_token, undefined, { DPoP });
    assert.equal(refreshed.token_type, 'dpop');
  });

  it('then a client that must use DPoP is refused tokens without a proof, and gets bound ones with one', async () => {
    const dpopOnly = await discoverDoorman(s.doorman.url, DPOP_ONLY);
    const { redeem } = await authorize(dpopOnly, DPOP_ONLY.redirectUri);
    // oidc-provider's answer; the reason (no DPoP proof) is in its log, not the response.
    await assert.rejects(redeem(), (err: unknown) => err instanceof oidc.ResponseBodyError && err.error === 'invalid_grant');
    const DPoP = oidc.getDPoPHandle(dpopOnly, await oidc.randomDPoPKeyPair('ES256'));
    const tokens = await (await authorize(dpopOnly, DPOP_ONLY.redirectUri)).redeem(DPoP);
    assert.equal(tokens.token_type, 'dpop');
  });
});
