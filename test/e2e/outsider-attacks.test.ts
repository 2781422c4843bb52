import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { setAdmin } from '../../src/accounts/admin.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { CLI, pollDevice } from '../helpers/device.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { assertErrorPage } from '../helpers/assertions.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Outsider attack review over HTTP, across features: what earlier reviews tried one at a
 * time (replay of a callback, forwarded headers) tried as races and with spoofed headers.
 */

/** Starts a login and stops when Google redirects back to Doorman's callback. */
async function reachCallback(s: Scenario, browser: Browser): Promise<URL> {
  const req = await buildAuthRequest(await discoverDoorman(s.doorman.url));
  const picker = await browser.submit(await browser.visit(req.url), '/upstream/google');
  const back = await browser.submit(picker, '/decide', { sub: ALICE.sub }, `${s.doorman.url}/upstream/google/callback`);
  return back.url;
}

describe('when two requests race for one step of a sign-in', () => {
  let s: Scenario;
  before(async () => { s = await startScenario(); });
  after(() => s.close());

  it('then two callbacks of one login (a double click, a retry) redeem the upstream code once, and the other is told the login expired', async () => {
    const browser = new Browser();
    const callback = await reachCallback(s, browser);
    const twin = await browser.clone();
    const issued = s.google.tokensIssued;
    const pages = await Promise.all([browser.visit(callback, 'never'), twin.visit(callback, 'never')]);
    for (const page of pages) assert.ok(page.status < 500, `${page.status} ${page.body.slice(0, 300)}`);
    assert.equal(pages.filter((p) => p.status === 200 && /\/consent"/.test(p.body)).length, 1, pages.map((p) => `${p.status} ${p.body.slice(0, 200)}`).join('\n'));
    assert.equal(s.google.tokensIssued, issued + 1, 'the upstream code is exchanged once');
    const loser = pages.find((p) => !/\/consent"/.test(p.body))!;
    assertErrorPage(loser, 400, 'login_expired');
  });

  it('then two consents of one interaction give the app one code, and the other a page saying the sign-in is over', async () => {
    const browser = new Browser();
    const callback = await reachCallback(s, browser);
    const consent = await browser.visit(callback, 'never');
    assert.match(consent.body, /\/consent"/);
    const twin = await browser.clone();
    const pages = await Promise.all([browser.submit(consent, '/consent', {}, APP.redirectUri), twin.submit(consent, '/consent', {}, APP.redirectUri)]);
    for (const page of pages) assert.ok(page.status < 500, `${page.status} ${page.body.slice(0, 300)}`);
    const codes = pages.filter((p) => p.url.href.startsWith(APP.redirectUri) && p.url.searchParams.get('code'));
    assert.equal(codes.length, 1, `codes: ${codes.map((p) => p.url.href).join(' ')}`);
    const loser = pages.find((p) => !codes.includes(p))!;
    assert.equal(loser.status, 400, loser.body.slice(0, 500));
    assert.match(loser.body, /Error code: (interaction_expired|invalid_request)/);
  });
});

/** Discovery, the first redirect and the upstream's redirect_uri all stay on s's issuer despite spoofed forwarding headers. */
async function assertIssuerHolds(s: Scenario, trustProxy: boolean): Promise<void> {
  const SPOOF = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-for': '6.6.6.6, 7.7.7.7', forwarded: 'host=evil.example;proto=https', host: 'evil.example' };
  const discovery = await (await fetch(`${s.doorman.url}/.well-known/openid-configuration`, { headers: SPOOF })).json() as Record<string, string>;
  assert.equal(discovery.issuer, s.doorman.url);
  // Behind a trusted proxy, oidc-provider names its endpoints and pages after the forwarded
  // host, which that proxy sets; the issuer, which tokens carry, never moves.
  if (trustProxy) return;
  assert.ok(discovery.authorization_endpoint!.startsWith(s.doorman.url));
  const browser = new Browser();
  browser.headers = SPOOF;
  const req = await buildAuthRequest(await discoverDoorman(s.doorman.url));
  const first = await browser.request(req.url);
  assert.ok(new URL(first.headers.get('location')!, s.doorman.url).href.startsWith(s.doorman.url), first.headers.get('location')!);
  const login = await browser.follow(first);
  assert.equal(login.status, 200);
  const upstream = await browser.request(new URL(/action="([^"]*\/upstream\/google)"/.exec(login.body)![1]!.replace(/&amp;/g, '&'), login.url), { method: 'POST', form: { csrf: /name="csrf" value="([^"]*)"/.exec(login.body)![1]! } });
  const to = new URL(upstream.headers.get('location')!);
  assert.equal(new URL(to.searchParams.get('redirect_uri')!).origin, s.doorman.url, to.href);
}

describe('when an outsider sends headers a client controls', () => {
  let s: Scenario;
  before(async () => { s = await startScenario(); });
  after(() => s.close());

  for (const trustProxy of [false, true]) {
    it(`then with trustProxy ${trustProxy}, X-Forwarded-* and Forwarded leave the issuer alone (and without it, every URL of the login)`, async () => {
      const proxied = trustProxy ? await startScenario({ config: { trustProxy: true, proxyHops: 2 } }) : s;
      try {
        await assertIssuerHolds(proxied, trustProxy);
      } finally {
        if (proxied !== s) await proxied.close();
      }
    });
  }
  it('then a huge or odd Accept-Language, Origin and Referer still get the login page, not a 5xx', async () => {
    const req = await buildAuthRequest(await discoverDoorman(s.doorman.url));
    const odd: Record<string, string>[] = [
      // Below Node's 16 KB header limit (past it Node answers 431 itself, bad-input.test.ts).
      { 'accept-language': `${'en-US;q=0.9,'.repeat(900)}de` },
      { 'accept-language': 'x'.repeat(12_000) },
      { 'accept-language': '*;q=abc,;q=,-,--,en-;q=1e999' },
      { origin: 'null', referer: 'not a url' },
      { origin: `https://${'a'.repeat(5000)}.example`, referer: `https://x/${'%ZZ'.repeat(2000)}` },
    ];
    for (const headers of odd) {
      const browser = new Browser();
      browser.headers = headers;
      const page: Page = await browser.visit(req.url);
      assert.ok(page.status < 500, `${JSON.stringify(headers).slice(0, 80)}: ${page.status} ${page.body.slice(0, 300)}`);
    }
  });
});

describe('when two people confirm one device code at once', () => {
  const BOB = { sub: '110169484474386277555', email: 'bob@example.com', email_verified: true, name: 'Bob Example' };
  let s: Scenario;
  before(async () => {
    s = await startScenario({ moreClients: [CLI] });
    s.google.users.push(BOB);
  });
  after(() => s.close());

  it('then the device signs in as the one whose confirmation it was told of, and the other hears the code was used', async () => {
    const cli = await discoverDoorman(s.doorman.url, CLI);
    const signedIn = async (who: string) => {
      const browser = new Browser();
      // Signed in to Doorman once the upstream answered (the wiki's consent page may follow).
      await chooseUpstream(browser, await browser.visit((await buildAuthRequest(await discoverDoorman(s.doorman.url))).url), 'google', who);
      return browser;
    };
    const [alice, bob] = await Promise.all([signedIn(ALICE.sub), signedIn(BOB.sub)]);
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const tokens = pollDevice(cli, started);
    const confirmOf = async (browser: Browser) => {
      const entry = await browser.submit(await browser.visit(`${s.doorman.url}/device`), '/device', { user_code: started.user_code });
      const form = [...entry.body.matchAll(/<form[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes('name="confirm"'));
      assert.ok(form, entry.body.slice(0, 500));
      return { ...entry, body: form };
    };
    const [aliceConfirm, bobConfirm] = await Promise.all([confirmOf(alice), confirmOf(bob)]);
    const pages = await Promise.all([alice.submit(aliceConfirm, '/device'), bob.submit(bobConfirm, '/device')]);
    for (const page of pages) assert.ok(page.status < 500, `${page.status} ${page.body.slice(0, 300)}`);
    const told = pages.map((p) => /is now signed in on your device/.test(p.body));
    assert.equal(told.filter(Boolean).length, 1, pages.map((p) => `${p.status} ${p.body.replace(/\s+/g, ' ').slice(0, 300)}`).join('\n'));
    assert.match(pages[told[0] ? 1 : 0]!.body, /This code was already used/);
    const winner = told[0] ? ALICE : BOB;
    const claims = (await tokens).claims()!;
    const rows = await s.db.query<{ id: string }>(`SELECT "accountId" AS id FROM "Identity" WHERE subject = '${winner.sub}'`);
    assert.equal(claims.sub, rows[0]!.id, 'the device is the account of the person told it is signed in');
  });
});

describe('when one admin\'s console form token is posted from another console session', () => {
  const BOB = { sub: '110169484474386277556', email: 'bob@example.com', email_verified: true, name: 'Bob Admin' };
  let s: Scenario;
  before(async () => {
    s = await startScenario();
    s.google.users.push(BOB);
  });
  after(() => s.close());

  const idOf = async (sub: string) => (await s.doorman.db.identity.findUniqueOrThrow({ where: { provider_subject: { provider: 'google', subject: sub } } })).accountId;
  /** `who`, made an admin, in a browser of their own at `path` of the console. */
  async function adminAt(who: string, path: string): Promise<{ browser: Browser; page: Page }> {
    const browser = new Browser();
    await chooseUpstream(browser, await browser.visit(`${s.doorman.url}/admin`), 'google', who, {}, 'never');
    await setAdmin(s.doorman.db, await idOf(who), true, 'test');
    const page = await browser.visit(`${s.doorman.url}${path}`);
    assert.equal(page.status, 200, page.body.slice(0, 300));
    return { browser, page };
  }

  it('then it is refused with 403 in another admin\'s session and in the same admin\'s other browser, and nothing is done', async () => {
    const alice = await adminAt(ALICE.sub, '/admin');
    const bob = await adminAt(BOB.sub, '/admin');
    const bobId = await idOf(BOB.sub);
    const aliceToken = /name="csrf" value="([^"]+)"/.exec((await alice.browser.visit(`${s.doorman.url}/admin/accounts/${bobId}`)).body)?.[1];
    assert.ok(aliceToken);
    const aliceElsewhere = await adminAt(ALICE.sub, '/admin');
    for (const [name, browser] of [['Bob', bob.browser], ['Alice\'s other browser', aliceElsewhere.browser]] as const) {
      const page = await browser.request(`${s.doorman.url}/admin/accounts/${bobId}/disable`, { method: 'POST', form: { csrf: aliceToken, confirm: 'yes' } });
      assertErrorPage(page, 403, 'csrf');
      assert.equal((await s.doorman.db.account.findUniqueOrThrow({ where: { id: bobId } })).disabledAt, null, name);
    }
    const own = await alice.browser.request(`${s.doorman.url}/admin/accounts/${bobId}/disable`, { method: 'POST', form: { csrf: aliceToken, confirm: 'yes' } });
    assert.ok(own.status < 400, `the token works in its own session: ${own.status}`);
    assert.notEqual((await s.doorman.db.account.findUniqueOrThrow({ where: { id: bobId } })).disabledAt, null);
  });
});

describe('when a request names an app or a person with look-alike Unicode', () => {
  let s: Scenario;
  before(async () => { s = await startScenario(); });
  after(() => s.close());

  it('then a client_id that only looks like the wiki\'s is an unknown app, and odd login hints still get the login page', async () => {
    const req = await buildAuthRequest(await discoverDoorman(s.doorman.url));
    for (const lookalike of ['w\u0456ki', 'wiki\u200b', 'WIKI', 'ｗｉｋｉ', 'wi\u0307ki']) {
      const url = new URL(req.url);
      url.searchParams.set('client_id', lookalike);
      const page = await new Browser().visit(url);
      assert.equal(page.status, 400, `${lookalike}: ${page.body.slice(0, 300)}`);
      assert.doesNotMatch(page.body, /Team Wiki|Continue with Google/, lookalike);
    }
    for (const hint of ['\u0430lice@example.com', 'alice@ex\u0430mple.com', '\u202egro.rehto@eve', 'alice@example.com\u0000', `${'ä'.repeat(1200)}@example.com`]) {
      const url = new URL(req.url);
      url.searchParams.set('login_hint', hint);
      const page = await new Browser().visit(url);
      assert.ok(page.status < 500, `${JSON.stringify(hint.slice(0, 40))}: ${page.status} ${page.body.slice(0, 300)}`);
    }
  });
});
