import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, type Page } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';

/** Clicks through Doorman's login page and the fake Google's account picker. */
export async function signInAtGoogle(browser: Browser, loginPage: Page, sub: string, stopAt: string = APP.redirectUri): Promise<Page> {
  assert.equal(loginPage.status, 200, loginPage.body);
  assert.match(loginPage.body, /Continue with Google/);
  const picker = await browser.submit(loginPage, '/upstream/google');
  assert.match(picker.body, /Choose an account/);
  return browser.submit(picker, '/o/oauth2/v2/auth/decide', { sub }, stopAt);
}

/** What each test starts from: its own Doorman (fresh database, fake Google) and one browser. */
interface World { s: Scenario; rp: oidc.Configuration; browser: Browser }

/** A fresh Doorman for one test, closed when that test ends, so counts of accounts and Google tokens are that test's own. */
async function arrange(t: TestContext): Promise<World> {
  const s = await startScenario();
  t.after(() => s.close());
  return { s, rp: await discoverDoorman(s.doorman.url), browser: new Browser() };
}

/** Alice signs in at Google in the world's browser and consents to email, profile and a refresh token. */
async function signInWithConsent({ rp, browser }: World) {
  const req = await buildAuthRequest(rp, { scope: 'openid email profile offline_access', prompt: 'consent' });
  const login = await browser.visit(req.url);
  const consent = await signInAtGoogle(browser, login, ALICE.sub, 'never');
  assert.equal(consent.status, 200, consent.body);
  const back = await browser.submit(consent, '/consent', {}, APP.redirectUri);
  return { req, consent, back, tokens: await redeemCode(rp, back.url, req) };
}

describe('when a person signs in to an app through Doorman with Google', () => {
  it('then discovery and JWKS publish the provider and its public signing keys (current and next)', async (t) => {
    const { s, rp } = await arrange(t);
    const meta = rp.serverMetadata();
    assert.equal(meta.issuer, s.doorman.url);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    const jwks = await (await fetch(meta.jwks_uri!)).json() as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 2);
    for (const key of jwks.keys) {
      assert.equal(key.kty, 'RSA');
      assert.equal(key.d, undefined, 'no private part in JWKS');
    }
  });

  it('then the app gets a verified ID token, userinfo and a refresh token after login and consent', async (t) => {
    const w = await arrange(t);
    const { s, rp } = w;
    const { req, consent, back, tokens } = await signInWithConsent(w);
    assert.match(consent.body, /Team Wiki wants to access your account/);
    assert.match(consent.body, /Your email address/);
    assert.equal(back.url.searchParams.get('state'), req.state);

    const claims = tokens.claims()!;
    const accounts = await s.db.query<{ id: string }>('SELECT id FROM "Account"');
    assert.equal(accounts.length, 1);
    assert.equal(claims.sub, accounts[0]!.id, 'sub is the local account id, not the Google subject');
    assert.equal(claims.iss, s.doorman.url);
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');

    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
    assert.equal(userinfo.email, 'alice@example.com');
    assert.equal(userinfo.email_verified, true);
    assert.equal(userinfo.name, ALICE.name);
    assert.equal(userinfo.picture, ALICE.picture);
    assert.equal(userinfo.preferred_username, 'alice');

    const identities = await s.db.query<{ provider: string; subject: string; emailVerified: boolean }>('SELECT provider, subject, "emailVerified" FROM "Identity"');
    assert.deepEqual(identities, [{ provider: 'google', subject: ALICE.sub, emailVerified: true }]);
    const events = await s.db.query<{ type: string }>('SELECT type FROM "AuditEvent" ORDER BY "createdAt", type');
    assert.deepEqual(events.map((e) => e.type).sort(), ['account.created', 'consent.granted', 'login']);
  });

  it('then a second login reaches the same account without asking Google again', async (t) => {
    const w = await arrange(t);
    const { s, rp, browser } = w;
    const { tokens } = await signInWithConsent(w);
    const req = await buildAuthRequest(rp);
    const back = await browser.visit(req.url, APP.redirectUri);
    assert.ok(back.url.searchParams.get('code'), 'existing session and grant: straight back to the app');
    const again = await redeemCode(rp, back.url, req);
    assert.equal(again.claims()!.sub, tokens.claims()!.sub);
    assert.equal(s.google.tokensIssued, 1);
    assert.equal((await s.db.query('SELECT 1 FROM "Account"')).length, 1);
  });

  it('then a refresh rotates the refresh token, and revocation makes the access token inactive', async (t) => {
    const w = await arrange(t);
    const { rp } = w;
    const { tokens } = await signInWithConsent(w);
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    assert.equal((await oidc.tokenIntrospection(rp, refreshed.access_token)).active, true);
    await oidc.tokenRevocation(rp, refreshed.access_token);
    assert.equal((await oidc.tokenIntrospection(rp, refreshed.access_token)).active, false);
  });

  it('then replaying a rotated refresh token fails and revokes the grant (RFC 9700 §4.14.2)', async (t) => {
    const w = await arrange(t);
    const { rp } = w;
    const { tokens } = await signInWithConsent(w);
    const rotated = (await oidc.refreshTokenGrant(rp, tokens.refresh_token!)).refresh_token!;
    assert.ok(rotated);
    await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');
    await assert.rejects(oidc.refreshTokenGrant(rp, rotated), (err: { error?: string }) => err.error === 'invalid_grant');
  });

  it('then RP-initiated logout ends the Doorman session and returns to the app', async (t) => {
    const w = await arrange(t);
    const { rp, browser } = w;
    const idToken = (await signInWithConsent(w)).tokens.id_token!;
    const url = oidc.buildEndSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: APP.postLogout, state: 'bye-state' });
    const confirm = await browser.visit(url);
    assert.equal(confirm.status, 200, confirm.body);
    assert.match(confirm.body, /Sign out\?/);
    const back = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' }, APP.postLogout);
    assert.equal(back.url.searchParams.get('state'), 'bye-state');
    const req = await buildAuthRequest(rp);
    const login = await browser.visit(req.url);
    assert.match(login.body, /Continue with Google/, 'session ended: the login page shows again');
  });
});

describe('when the app is first-party', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({ client: { firstParty: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then no consent page is shown and the only Doorman page is the login page', async () => {
    const browser = new Browser();
    const req = await buildAuthRequest(rp);
    const back = await signInAtGoogle(browser, await browser.visit(req.url), ALICE.sub);
    const tokens = await redeemCode(rp, back.url, req);
    assert.equal(tokens.claims()!.email, undefined, 'ID token carries only what is needed; the rest is at userinfo');
    const interactions = browser.history.filter((u) => u.pathname.startsWith('/interaction/') && !u.pathname.includes('/upstream/'));
    assert.equal(interactions.length, 1, interactions.join('\n'));
  });

  it('then prompt=consent with offline_access is approved without a page and gives a refresh token', async () => {
    const browser = new Browser();
    const req = await buildAuthRequest(rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const back = await signInAtGoogle(browser, await browser.visit(req.url), ALICE.sub);
    const tokens = await redeemCode(rp, back.url, req);
    assert.ok(tokens.refresh_token);
  });

  it('then two logins started in two tabs of one browser both finish', async () => {
    const browser = new Browser();
    const tabs = [await buildAuthRequest(rp), await buildAuthRequest(rp)];
    const callbacks: URL[] = [];
    for (const req of tabs) {
      const picker = await browser.submit(await browser.visit(req.url), '/upstream/google');
      callbacks.push((await browser.submit(picker, '/decide', { sub: ALICE.sub }, `${s.doorman.url}/upstream/`)).url);
    }
    for (const [i, callback] of callbacks.entries()) {
      const back = await browser.visit(callback, APP.redirectUri);
      assert.ok(back.url.href.startsWith(APP.redirectUri), `tab ${i + 1}: ${back.body.slice(0, 300)}`);
      assert.equal((await redeemCode(rp, back.url, tabs[i]!)).claims()!.email, undefined);
    }
  });
});
