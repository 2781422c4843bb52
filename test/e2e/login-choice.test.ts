import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { ALICE } from '../fakes/fake-google.ts';
import { OCTOCAT } from '../fakes/fake-upstreams.ts';
import { freePort } from '../../src/free-port.ts';
import { assertErrorPage } from '../helpers/assertions.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

const ONE_UPSTREAM_APP = { clientId: 'github-only', clientSecret: 'github-only-secret-0123456789' };

/** Fewer clicks: when Doorman's login page is skipped, and what it offers first. */
describe('when an app starts a login', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  let oneUpstreamRp: oidc.Configuration;
  before(async () => {
    s = await startScenario({
      with: ['github', 'oidc'],
      upstreams: { google: { domains: ['corp.example'] } },
      client: { upstreams: ['google', 'github'], firstParty: true },
      otherClients: [{ ...ONE_UPSTREAM_APP, redirectUris: [APP.redirectUri], upstreams: ['github'], firstParty: true }],
      config: { ui: { skipLoginPage: true } },
    });
    rp = await discoverDoorman(s.doorman.url);
    oneUpstreamRp = await discoverDoorman(s.doorman.url, ONE_UPSTREAM_APP);
  });
  after(() => s?.close());

  const start = async (browser: Browser, params: Record<string, string> = {}, app = rp) => browser.visit((await buildAuthRequest(app, params)).url);
  const isLoginPage = (page: { url: URL }) => page.url.pathname.startsWith('/interaction/');
  const wentTo = (browser: Browser, origin: string) => browser.history.find((u) => u.origin === origin && u.pathname !== '/.well-known/openid-configuration');

  it('then with no hint and two upstreams allowed, the login page offers both and not the one the app may not use', async () => {
    const page = await start(new Browser());
    assert.ok(isLoginPage(page), page.url.href);
    assert.match(page.body, /Continue with Google/);
    assert.match(page.body, /Continue with GitHub/);
    assert.doesNotMatch(page.body, /Example OIDC/);
  });

  it('then an app that allows one upstream sends the person straight to it', async () => {
    const browser = new Browser();
    const page = await start(browser, {}, oneUpstreamRp);
    assert.ok(!isLoginPage(page), 'the login page was shown');
    assert.equal(page.url.origin, new URL(s.github!.baseUrl).origin);
    const back = await chooseUpstream(browser, page, 'github', OCTOCAT.login);
    assert.ok(back.url.searchParams.get('code'), back.body.slice(0, 300));
  });

  for (const param of ['idp_hint', 'kc_idp_hint']) {
    it(`then ${param}=github sends the person straight to GitHub`, async () => {
      const browser = new Browser();
      const page = await start(browser, { [param]: 'github' });
      assert.equal(page.url.origin, new URL(s.github!.baseUrl).origin, page.url.href);
      const back = await chooseUpstream(browser, page, 'github', OCTOCAT.login);
      assert.ok(back.url.searchParams.get('code'));
    });
  }

  it('then a hint naming an upstream the app may not use, or none at all, shows the login page', async () => {
    for (const hint of ['oidc', 'nonexistent']) {
      const browser = new Browser();
      const page = await start(browser, { idp_hint: hint });
      assert.ok(isLoginPage(page), `${hint}: ${page.url.href}`);
      assert.equal(wentTo(browser, s.oidcIssuer!.issuer.replace(/\/$/, '')), undefined);
    }
  });

  it('then a login_hint in a domain an upstream lists goes to that upstream, and the hint is passed on', async () => {
    const browser = new Browser();
    const page = await start(browser, { login_hint: 'Ada@Corp.Example' });
    assert.ok(!isLoginPage(page), page.url.href);
    const atGoogle = wentTo(browser, new URL(s.google.issuer).origin)!;
    assert.equal(atGoogle.searchParams.get('login_hint'), 'Ada@Corp.Example');
    const back = await chooseUpstream(browser, page, 'google', ALICE.sub);
    assert.ok(back.url.searchParams.get('code'));
  });

  it('then a login_hint in another domain, or one that only looks alike (KELVIN SIGN), shows the login page', async () => {
    for (const hint of ['ada@other.example', 'ada@corp.exampl\u212A', 'corp.example', 'ada@corp.example@evil.example']) {
      const page = await start(new Browser(), { login_hint: hint });
      assert.ok(isLoginPage(page), `${hint}: ${page.url.href}`);
    }
  });

  it('then after a sign-in with GitHub, this browser\'s next login page offers GitHub first and still the others', async () => {
    const browser = new Browser();
    const back = await chooseUpstream(browser, await start(browser), 'github', OCTOCAT.login);
    assert.ok(back.url.searchParams.get('code'));
    const page = await start(browser, { prompt: 'login' });
    assert.ok(isLoginPage(page), page.url.href);
    const github = page.body.indexOf('Continue with GitHub');
    const google = page.body.indexOf('Continue with Google');
    assert.ok(github > 0 && google > github, 'GitHub is offered first, Google after it');
    assert.match(page.body, /Other ways to sign in/);
    const cookie = (await browser.jar.getCookies(page.url.href)).find((c) => c.key === 'doorman.last_upstream');
    assert.equal(cookie?.value, 'github', 'the cookie holds only the upstream id');
    // A fresh browser gets config order.
    const fresh = await start(new Browser());
    assert.ok(fresh.body.indexOf('Continue with Google') < fresh.body.indexOf('Continue with GitHub'));
  });

  it('then a failed login after a skip leads back to the login page, not to the upstream again', async () => {
    const browser = new Browser();
    const page = await start(browser, { idp_hint: 'github' });
    const denied = await chooseUpstream(browser, page, 'github', 'cancel');
    assert.equal(denied.status, 403, denied.body.slice(0, 300));
    const back = /href="([^"]*\?choose)"/.exec(denied.body)?.[1];
    assert.ok(back, 'the error page links to the login page');
    const chooser = await browser.visit(new URL(back.replace(/&amp;/g, '&'), denied.url));
    assert.ok(isLoginPage(chooser) && /Continue with Google/.test(chooser.body), chooser.url.href);
  });

  it('then the skip cannot be used without the page\'s CSRF token', async () => {
    const browser = new Browser();
    const page = await start(browser);
    const uid = page.url.pathname.split('/')[2]!;
    const forged = await browser.request(new URL(`/interaction/${uid}/upstream/github`, s.doorman.url));
    assert.equal(forged.status, 403);
    assert.equal(wentTo(browser, new URL(s.github!.baseUrl).origin), undefined);
  });
});

describe('when login starts are rate limited', () => {
  let s: Scenario;
  before(async () => {
    s = await startScenario({ config: { ui: { skipLoginPage: true }, rateLimits: { loginStartsPerIp: { points: 3, durationSeconds: 600 } } } });
  });
  after(() => s?.close());

  it('then a login that goes straight to the upstream counts once, at the authorization request', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const browser = new Browser();
    const upstream = new URL(s.google.issuer).origin;
    const reachedUpstream = (from: number) => browser.history.slice(from).some((u) => u.origin === upstream && u.pathname !== '/.well-known/openid-configuration');
    // Three logins, one start each: every authorization request goes straight to the only upstream.
    for (let i = 0; i < 3; i++) {
      const seen = browser.history.length;
      const page = await browser.visit((await buildAuthRequest(rp)).url);
      assert.equal(page.status, 200, page.url.href);
      assert.ok(reachedUpstream(seen), 'the login reached the upstream');
      assert.equal(browser.history.slice(seen).some((u) => u.pathname.startsWith('/interaction/')), false, 'no login page on the way');
    }
    // The fourth authorization request is refused before it starts anything.
    const seen = browser.history.length;
    const fourth = await browser.visit((await buildAuthRequest(rp)).url);
    assert.equal(fourth.status, 429, fourth.url.href);
    assert.equal(fourth.url.pathname, '/auth');
    assert.equal(reachedUpstream(seen), false, 'the refused start did not reach the upstream');
  });
});

describe('when login starts are rate limited and the person comes back to the login page', () => {
  let s: Scenario;
  before(async () => {
    s = await startScenario({ config: { ui: { skipLoginPage: true }, rateLimits: { loginStartsPerIp: { points: 2, durationSeconds: 600 } } } });
  });
  after(() => s?.close());

  it('then the login page, starting the upstream again itself, counts as a start like a click', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const browser = new Browser();
    await browser.visit((await buildAuthRequest(rp)).url); // start 1, straight to the upstream
    // The interaction cookie still names this login's page (path /interaction/<uid>): the way back works.
    const pagePath = String((await browser.jar.serialize()).cookies.find((c) => c.key === '_interaction')?.path);
    assert.match(pagePath, /^\/interaction\/[^/]+$/);
    const loginPage = new URL(pagePath, s.doorman.url);
    const again = await browser.visit(loginPage); // start 2: the page sends the browser to the upstream again
    assert.equal(new URL(again.url).origin, new URL(s.google.issuer).origin, again.url.href);
    const refused = await browser.visit(loginPage); // start 3: over the limit
    assert.equal(refused.status, 429);
    assert.match(refused.url.pathname, /^\/interaction\/[^/]+$/, 'the login page refuses');
  });
});

describe('when the only upstream cannot be reached as the login starts', () => {
  let s: Scenario;
  before(async () => {
    // Nothing listens there: the upstream's discovery (its first call) is refused.
    const nobody = `http://127.0.0.1:${await freePort()}`;
    s = await startScenario({ with: ['oidc'], upstreams: { oidc: { issuer: nobody } }, client: { upstreams: ['oidc'], firstParty: true }, config: { ui: { skipLoginPage: true } } });
  });
  after(() => s?.close());

  it('then the authorization request answers with the error page, whose way back is the login page', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const browser = new Browser();
    const page = await browser.visit((await buildAuthRequest(rp)).url);
    assertErrorPage(page, 502, 'unavailable');
    assert.equal(page.url.pathname, '/auth', 'answered by the authorization request itself');
    assert.equal(page.headers.get('location'), null, 'no redirect header beside the error page');
    const back = /href="([^"]*\?choose)"/.exec(page.body)?.[1];
    assert.match(String(back), /^\/interaction\/[^/?]+\?choose$/, 'the error page links to the login page');
    const loginPage = await browser.visit(new URL(back!, s.doorman.url));
    assert.equal(loginPage.status, 200);
    assert.match(loginPage.body, /Example OIDC/, 'the login page of the same login, with its button');
  });
});

describe('when the operator turned skipping off (ui.skipLoginPage: false)', () => {
  let s: Scenario;
  before(async () => {
    s = await startScenario({ client: { firstParty: true }, config: { ui: { skipLoginPage: false } } });
  });
  after(() => s?.close());

  it('then even an app with one upstream and a hint gets the login page', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const page = await new Browser().visit((await buildAuthRequest(rp, { idp_hint: 'google' })).url);
    assert.ok(page.url.pathname.startsWith('/interaction/'), page.url.href);
    assert.match(page.body, /Continue with Google/);
  });
});
