import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { accountRowCount, assertErrorPage } from '../helpers/assertions.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE, MALLORY_UNVERIFIED, OUTSIDER, STRING_VERIFIED } from '../fakes/fake-google.ts';


/** Starts a login at the app and stops when Google redirects back to Doorman's callback. */
async function reachCallback(s: Scenario, browser: Browser, sub: string | undefined): Promise<{ callback: URL; loginPage: Page }> {
  const rp = await discoverDoorman(s.doorman.url);
  const req = await buildAuthRequest(rp);
  const loginPage = await browser.visit(req.url);
  const picker = await browser.submit(loginPage, '/upstream/google');
  const back = await browser.submit(picker, '/decide', sub ? { sub } : { deny: '1' }, `${s.doorman.url}/upstream/google/callback`);
  return { callback: back.url, loginPage };
}


describe('when the upstream callback is not what Doorman sent for', () => {
  let s: Scenario;
  before(async () => { s = await startScenario(); });
  after(() => s.close());

  it('then a callback without state gets an error page and writes nothing', async () => {
    const browser = new Browser();
    const { callback } = await reachCallback(s, browser, ALICE.sub);
    callback.searchParams.delete('state');
    assertErrorPage(await browser.visit(callback), 400, 'state_mismatch');
    assert.equal(await accountRowCount(s), 0);
  });

  it('then a callback with a tampered state gets an error page and writes nothing', async () => {
    const browser = new Browser();
    const { callback } = await reachCallback(s, browser, ALICE.sub);
    callback.searchParams.set('state', `${callback.searchParams.get('state')!.slice(0, 12)}tampered`);
    assertErrorPage(await browser.visit(callback), 400, 'state_mismatch');
    assert.equal(await accountRowCount(s), 0);
  });

  it('then a callback in another browser (no state cookie) is refused', async () => {
    const { callback } = await reachCallback(s, new Browser(), ALICE.sub);
    assertErrorPage(await new Browser().visit(callback), 400, 'state_mismatch');
    assert.equal(await accountRowCount(s), 0);
  });

  it('then a callback tried in another browser is burnt: the browser that started it cannot use it afterwards', async () => {
    const browser = new Browser();
    const { callback } = await reachCallback(s, browser, ALICE.sub);
    const issued = s.google.tokensIssued;
    assertErrorPage(await new Browser().visit(callback), 400, 'state_mismatch');
    assertErrorPage(await browser.visit(callback), 400, 'login_expired');
    assert.equal(s.google.tokensIssued, issued, 'the code was never redeemed');
    assert.equal(await accountRowCount(s), 0);
  });

  it('then a replayed callback, even with the state cookie, is refused and the code is not redeemed twice', async () => {
    const browser = new Browser();
    const { callback } = await reachCallback(s, browser, ALICE.sub);
    const twin = await browser.clone();
    const first = await browser.visit(callback, 'never');
    assert.equal(first.status, 200, 'first use completes the login (consent page)');
    const issued = s.google.tokensIssued;
    assertErrorPage(await twin.visit(callback), 400, 'login_expired');
    assert.equal(s.google.tokensIssued, issued, 'no second code exchange');
  });
});

describe('when the person or the upstream says no', () => {
  let s: Scenario;
  before(async () => { s = await startScenario(); });
  after(() => s.close());

  it('then cancelling at Google shows a page with a way back to the sign-in options', async () => {
    const browser = new Browser();
    const { callback } = await reachCallback(s, browser, undefined);
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    const page = await browser.visit(callback);
    assertErrorPage(page, 403, 'denied');
    assert.match(page.body, /Sign-in cancelled/);
    const back = /href="(\/interaction\/[^"]+)"/.exec(page.body)?.[1];
    assert.ok(back, 'a way back');
    const again = await browser.visit(new URL(back, s.doorman.url));
    assert.match(again.body, /Continue with Google/);
    assert.equal(await accountRowCount(s), 0);
  });

  it('then cancelling on Doorman\'s login page returns access_denied to the app', async () => {
    const browser = new Browser();
    const rp = await discoverDoorman(s.doorman.url);
    const req = await buildAuthRequest(rp);
    const login = await browser.visit(req.url);
    const back = await browser.submit(login, '/abort', {}, APP.redirectUri);
    assert.equal(back.url.searchParams.get('error'), 'access_denied');
    assert.equal(back.url.searchParams.get('state'), req.state);
  });

  it('then a form posted without its CSRF token is refused', async () => {
    const browser = new Browser();
    const rp = await discoverDoorman(s.doorman.url);
    const login = await browser.visit((await buildAuthRequest(rp)).url);
    const page = await browser.submit(login, '/upstream/google', { csrf: 'forged' });
    assertErrorPage(page, 403, 'csrf');
  });
});

describe('when Google answers with an identity Doorman must not trust as is', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ client: { firstParty: true } }); });
  after(() => s.close());

  for (const [label, user] of [['email_verified false', MALLORY_UNVERIFIED], ['email_verified as the string "true"', STRING_VERIFIED]] as const) {
    it(`then an email with ${label} is stored and released as unverified`, async () => {
      const browser = new Browser();
      const rp = await discoverDoorman(s.doorman.url);
      const req = await buildAuthRequest(rp);
      const login = await browser.visit(req.url);
      const picker = await browser.submit(login, '/upstream/google');
      const back = await browser.submit(picker, '/decide', { sub: user.sub }, APP.redirectUri);
      const tokens = await redeemCode(rp, back.url, req);
      const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
      assert.equal(userinfo.email, user.email);
      assert.equal(userinfo.email_verified, false);
      const [identity] = await s.db.query<{ emailVerified: boolean }>('SELECT "emailVerified" FROM "Identity" WHERE subject = $1', [user.sub]);
      assert.equal(identity!.emailVerified, false);
    });
  }
});

describe('when a hosted domain is required', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ upstream: { hostedDomain: 'example.com' } }); });
  after(() => s.close());

  it('then an account from another domain is refused with a page that says so, and nothing is written', async () => {
    const browser = new Browser();
    const { callback } = await reachCallback(s, browser, OUTSIDER.sub);
    const page = await browser.visit(callback);
    assertErrorPage(page, 403, 'domain_not_allowed');
    assert.match(page.body, /does not belong to an organisation allowed/);
    assert.equal(await accountRowCount(s), 0);
  });

  it('then an account of that domain signs in', async () => {
    const browser = new Browser();
    const { callback } = await reachCallback(s, browser, ALICE.sub);
    const page = await browser.visit(callback, 'never');
    assert.match(page.body, /wants to access your account/);
    assert.equal(await accountRowCount(s), 2);
  });
});

describe('when the upstream is misconfigured or hangs', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ upstream: { timeoutMs: 1000 } }); });
  after(() => s.close());

  it('then a token endpoint slower than the timeout gives a timeout page in time', async () => {
    s.google.tokenDelayMs = 5000;
    try {
      const browser = new Browser();
      const { callback } = await reachCallback(s, browser, ALICE.sub);
      const started = Date.now();
      const page = await browser.visit(callback);
      assertErrorPage(page, 504, 'timeout');
      assert.ok(Date.now() - started < 4000, 'answered before the upstream did');
      assert.equal(await accountRowCount(s), 0);
    } finally {
      s.google.tokenDelayMs = 0;
    }
  });
});

describe('when Doorman holds the wrong Google client secret', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ upstream: { clientSecretEnv: 'WIKI_SECRET' } }); });
  after(() => s.close());

  it('then the person sees a misconfiguration page, not a crash', async () => {
    const browser = new Browser();
    const { callback } = await reachCallback(s, browser, ALICE.sub);
    assertErrorPage(await browser.visit(callback), 502, 'misconfigured');
    assert.equal(await accountRowCount(s), 0);
  });
});

describe('when an app sends a bad authorization request', () => {
  let s: Scenario;
  before(async () => { s = await startScenario(); });
  after(() => s.close());

  it('then an unknown client gets an error page and no redirect', async () => {
    const url = new URL('/auth', s.doorman.url);
    url.search = new URLSearchParams({ client_id: 'nope', redirect_uri: APP.redirectUri, response_type: 'code', scope: 'openid' }).toString();
    const page = await new Browser().request(url);
    assert.equal(page.status, 400);
    assert.equal(page.headers.get('location'), null);
    assert.match(page.body, /invalid_client/);
    assert.match(page.body, /Sign-in request refused/, 'the app\'s mistake is called one');
  });

  it('then resuming a sign-in this browser does not hold says it expired, not that the app was refused', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const login = await new Browser().visit((await buildAuthRequest(rp)).url);
    const uid = /\/interaction\/([^/?]+)/.exec(login.url.pathname)![1]!;
    const page = await new Browser().request(new URL(`/auth/${uid}`, s.doorman.url));
    assert.equal(page.status, 400);
    assert.match(page.body, /Sign-in expired/);
    assert.doesNotMatch(page.body, /refused/i);
  });

  it('then a redirect_uri that is not registered exactly gets an error page and no redirect', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const req = await buildAuthRequest(rp, { redirect_uri: `${APP.redirectUri}/../evil` });
    const page = await new Browser().request(req.url);
    assert.equal(page.status, 400);
    assert.equal(page.headers.get('location'), null);
    assert.match(page.body, /redirect_uri/);
    assert.match(page.body, /Sign-in request refused/);
  });

  it('then a request without PKCE and without a nonce is refused back to the app', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const req = await buildAuthRequest(rp);
    req.url.searchParams.delete('code_challenge');
    req.url.searchParams.delete('code_challenge_method');
    req.url.searchParams.delete('nonce');
    const page = await new Browser().request(req.url);
    const location = new URL(page.headers.get('location')!);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description')!, /PKCE/);
  });
});
