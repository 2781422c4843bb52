import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { ALICE } from '../fakes/fake-google.ts';
import { OCTOCAT } from '../fakes/fake-upstreams.ts';
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

  it('then a skipped login page counts as a login start, like a click', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const browser = new Browser();
    // One login: /auth (1), the skip to the only upstream (2).
    const first = await browser.visit((await buildAuthRequest(rp)).url);
    assert.equal(first.status, 200);
    // The second: /auth (3), then the skip is the fourth start: refused.
    const seenBefore = browser.history.length;
    const second = await browser.visit((await buildAuthRequest(rp)).url);
    assert.equal(second.status, 429, second.url.href);
    // The login page starts the upstream itself: it is the page that refuses.
    assert.match(second.url.pathname, /^\/interaction\/[^/]+$/);
    assert.equal(browser.history.slice(seenBefore).some((u) => u.origin === new URL(s.google.issuer).origin && u.pathname !== '/.well-known/openid-configuration'), false, 'the refused start did not reach the upstream');
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
