import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { buildConfig } from '../../src/config/load.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { ALICE_CORP_MFA, KIM, LEE_UNLISTED_ACR, MO_MFA, PAT_PROFILE_MFA } from '../fakes/fake-upstreams.ts';

/**
 * `amr` and `acr` in Doorman's ID token (README "Authentication context"): `fed` always,
 * the upstream's own amr/acr only from its verified ID token, and acr_values as a
 * requirement that only capable upstreams can meet. The app is openid-client.
 */
const MFA_APP = { clientId: 'payroll', clientSecret: 'payroll-secret-0123456789', redirectUri: 'http://127.0.0.1:4998/callback' } as const;

describe('when upstreams assert how a person authenticated', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({
      with: ['oidc'],
      upstreams: { oidc: { acrValues: ['mfa'] } },
      otherClients: [{ clientId: MFA_APP.clientId, clientSecret: MFA_APP.clientSecret, redirectUris: [MFA_APP.redirectUri], firstParty: true, defaultAcrValues: ['mfa'] }],
      client: { firstParty: true },
    });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  const accounts = async () => Number((await s.db.query<{ n: string }>('SELECT count(*) AS n FROM "Account"'))[0]!.n);

  it('then discovery advertises amr and acr claims and exactly the acr values upstreams assert', async () => {
    const meta = rp.serverMetadata();
    assert.deepEqual(meta.acr_values_supported, ['mfa']);
    assert.ok(meta.claims_supported?.includes('amr') && meta.claims_supported.includes('acr'));
  });

  it('then a Google login has amr ["fed"] and no acr in the ID token', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'google', ALICE.sub);
    assert.deepEqual(tokens.claims()!.amr, ['fed']);
    assert.equal(tokens.claims()!.acr, undefined);
  });

  it('then an upstream amr ["pwd", "mfa"] and its listed acr reach the ID token, also after a refresh', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'oidc', MO_MFA.sub, {}, { scope: 'openid email offline_access' });
    assert.deepEqual(tokens.claims()!.amr, ['fed', 'pwd', 'mfa']);
    assert.equal(tokens.claims()!.acr, 'mfa');
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    assert.deepEqual(refreshed.claims()!.amr, ['fed', 'pwd', 'mfa']);
    assert.equal(refreshed.claims()!.acr, 'mfa');
  });

  it('then an acr the operator did not list for that upstream is not passed on', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'oidc', LEE_UNLISTED_ACR.sub);
    assert.deepEqual(tokens.claims()!.amr, ['fed', 'pwd']);
    assert.equal(tokens.claims()!.acr, undefined);
  });

  it('then an amr "mfa" found only in the unsigned userinfo is not passed on', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'oidc', PAT_PROFILE_MFA.sub);
    assert.deepEqual(tokens.claims()!.amr, ['fed']);
  });

  it('then acr_values=mfa offers only the upstream that asserts it, asks it for mfa, and the ID token says mfa', async () => {
    const browser = new Browser();
    const req = await buildAuthRequest(rp, { acr_values: 'mfa' });
    const page = await browser.visit(req.url);
    assert.equal(page.status, 200);
    assert.match(page.body, /\/upstream\/oidc"/);
    assert.doesNotMatch(page.body, /\/upstream\/google"/);
    const direct = await browser.request(new URL(page.url.pathname + '/upstream/google', page.url), { method: 'POST', form: { csrf: /name="csrf" value="([^"]+)"/.exec(page.body)![1]! } });
    assert.equal(direct.status, 404, 'an upstream that cannot assert mfa is refused even when posted to directly');
    const asked = s.oidcIssuer!.askedAcrValues.length;
    const back = await chooseUpstream(browser, page, 'oidc', MO_MFA.sub);
    assert.equal(s.oidcIssuer!.askedAcrValues[asked], 'mfa');
    const tokens = await redeemCode(rp, back.url, req);
    assert.equal(tokens.claims()!.acr, 'mfa');
  });

  it('then acr_values=mfa with an upstream login without mfa ends at the app with unmet_authentication_requirements, and no account is written', async () => {
    const before = await accounts();
    const browser = new Browser();
    const req = await buildAuthRequest(rp, { acr_values: 'mfa' });
    const landed = await chooseUpstream(browser, await browser.visit(req.url), 'oidc', KIM.sub);
    await assert.rejects(redeemCode(rp, landed.url, req), (err: unknown) => err instanceof oidc.AuthorizationResponseError && err.error === 'unmet_authentication_requirements');
    assert.equal(await accounts(), before);
    const metrics = await (await fetch(`${s.doorman.url}/metrics`)).text();
    assert.match(metrics, /doorman_logins_total\{[^}]*upstream="oidc"[^}]*outcome="refused",reason="unmet_authentication_requirements"\} [1-9]/);
  });

  it('then acr_values no upstream asserts is answered at the redirect URI with unmet_authentication_requirements, with or without prompt=none', async () => {
    for (const extra of [{}, { prompt: 'none' }] as Record<string, string>[]) {
      const req = await buildAuthRequest(rp, { acr_values: 'urn:example:loa:4', ...extra });
      const landed = await new Browser().visit(req.url, APP.redirectUri);
      assert.equal(landed.url.searchParams.get('error'), 'unmet_authentication_requirements', landed.url.href + landed.body.slice(0, 300));
      assert.equal(landed.url.searchParams.get('state'), req.state);
      await assert.rejects(redeemCode(rp, landed.url, req), (err: unknown) => err instanceof oidc.AuthorizationResponseError && err.error === 'unmet_authentication_requirements');
    }
  });

  it('then odd acr_values (Unicode, quotes, thousands of characters) get the same fixed-worded error, not echoed', async () => {
    const odd = `m\u0192a "x\\ ${'z'.repeat(3000)} mfa\u200b`;
    const req = await buildAuthRequest(rp, { acr_values: odd });
    const landed = await new Browser().visit(req.url, APP.redirectUri);
    assert.equal(landed.url.searchParams.get('error'), 'unmet_authentication_requirements', landed.url.href.slice(0, 300) + landed.body.slice(0, 300));
    assert.equal(landed.url.searchParams.get('error_description'), 'no upstream this app may use can assert any of the requested acr values');
  });

  it('then a session without mfa is not enough for acr_values=mfa: prompt=none gets login_required, otherwise the login page again', async () => {
    const browser = new Browser();
    await signInThrough(rp, browser, 'oidc', KIM.sub);
    const silent = await buildAuthRequest(rp, { acr_values: 'mfa', prompt: 'none' });
    const landed = await browser.visit(silent.url, APP.redirectUri);
    assert.equal(landed.url.searchParams.get('error'), 'login_required');
    const again = await buildAuthRequest(rp, { acr_values: 'mfa' });
    const page = await browser.visit(again.url, APP.redirectUri);
    assert.ok(page.url.pathname.startsWith('/interaction/'), page.url.href);
    // The same person, this time with a second factor at the upstream (its step-up).
    const back = await chooseUpstream(browser, page, 'oidc', KIM.sub, { second_factor: 'yes' });
    assert.equal(s.oidcIssuer!.askedAcrValues.at(-1), 'mfa');
    assert.equal((await redeemCode(rp, back.url, again)).claims()!.acr, 'mfa');
  });

  it('then a session with mfa satisfies a later acr_values=mfa request without a login page (prompt=none)', async () => {
    const browser = new Browser();
    await signInThrough(rp, browser, 'oidc', MO_MFA.sub, {}, { acr_values: 'mfa' });
    const silent = await buildAuthRequest(rp, { acr_values: 'mfa', prompt: 'none' });
    const landed = await browser.visit(silent.url, APP.redirectUri);
    const tokens = await redeemCode(rp, landed.url, silent);
    assert.equal(tokens.claims()!.acr, 'mfa');
  });

  it('then a client with defaultAcrValues [mfa] requires it without sending acr_values', async () => {
    const payroll = await discoverDoorman(s.doorman.url, MFA_APP);
    const browser = new Browser();
    const req = await buildAuthRequest(payroll, { redirect_uri: MFA_APP.redirectUri });
    const page = await browser.visit(req.url, MFA_APP.redirectUri);
    // The only upstream that can assert mfa: the login page shows just its button.
    assert.match(page.body, /\/upstream\/oidc"/);
    assert.doesNotMatch(page.body, /\/upstream\/google"/);
    const landed = await chooseUpstream(browser, page, 'oidc', KIM.sub, {}, MFA_APP.redirectUri);
    assert.equal(landed.url.searchParams.get('error'), 'unmet_authentication_requirements');
  });

  it('then with acr_values=mfa, a new mfa identity linked by proving the account with Google (which has no mfa) signs in with mfa', async () => {
    const alice = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.claims()!.sub;
    const browser = new Browser();
    const req = await buildAuthRequest(rp, { acr_values: 'mfa' });
    const offer = await chooseUpstream(browser, await browser.visit(req.url), 'oidc', ALICE_CORP_MFA.sub, {}, 'never');
    const picker = await browser.submit(offer, '/link/google');
    const back = await browser.submit(picker, '/decide', { sub: ALICE.sub }, APP.redirectUri);
    const claims = (await redeemCode(rp, back.url, req)).claims()!;
    assert.deepEqual([claims.sub, claims.acr, claims.amr], [alice, 'mfa', ['fed', 'pwd', 'mfa']]);
  });

  it('then the claims parameter (and so an essential acr request through it) is not supported, and discovery says so', async () => {
    assert.equal(rp.serverMetadata().claims_parameter_supported, false);
  });
});

describe('when a client requires acr values no upstream it may use asserts', () => {
  it('then the configuration is refused naming the key', () => {
    assert.throws(() => buildConfig({
      issuer: 'http://127.0.0.1:3000',
      upstreams: [{ id: 'corp', type: 'oidc', displayName: 'Corp', issuer: 'https://corp.example', clientId: 'x', clientSecretEnv: 'S', acrValues: ['mfa'] },
        { id: 'gh', type: 'github', clientId: 'y', clientSecretEnv: 'S' }],
      clients: [{ clientId: 'a', redirectUris: ['https://a.example/cb'], upstreams: ['gh'], defaultAcrValues: ['mfa'] }],
    }, { S: 'secret' }), /clients\[0\]\.defaultAcrValues\[0\]: no upstream this client may use lists "mfa"/s);
  });
});
