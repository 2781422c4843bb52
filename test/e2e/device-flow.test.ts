import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import { DEVICE_CODE_GRANT } from '../../src/device/grant.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { CLI, deviceError, pollDevice, TV } from '../helpers/device.ts';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-postgres.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * The device flow (RFC 8628) as a CLI or TV uses it: openid-client's device grant on the
 * device's side, a person's browser (HTTP, cookies, forms) on the verification page.
 * CLI is first-party (no consent page), TV third-party (helpers/device.ts); APP (Team
 * Wiki) lacks the grant.
 * Doorman trusts X-Forwarded-For here, so each test is its own address for the limits.
 */
const ORDERS = 'https://orders.example/';
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

let nextAddress = 1;
/** A person's browser at an address of its own (see above). */
function newBrowser(): Browser {
  const browser = new Browser();
  browser.headers['x-forwarded-for'] = `198.51.100.${nextAddress++}`;
  return browser;
}

/** The form on `page` that posts `field` (the confirmation page has two forms to /device). */
function formWith(page: Page, field: string): Page {
  const form = [...page.body.matchAll(/<form[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes(`name="${field}"`));
  assert.ok(form, `no form with ${field} in ${page.body.slice(0, 800)}`);
  return { ...page, body: form };
}

describe('when a device signs a person in with the device flow', () => {
  let s: Scenario;
  let cli: oidc.Configuration;
  let tv: oidc.Configuration;
  const entryUrl = () => `${s.doorman.url}/device`;
  const enterCode = async (browser: Browser, userCode: string) => browser.submit(await browser.visit(entryUrl()), '/device', { user_code: userCode });

  before(async () => {
    s = await startScenario({ moreClients: [CLI, TV], config: { trustProxy: true, resourceServers: [{ identifier: ORDERS, scopes: ['orders:read'] }] } });
    cli = await discoverDoorman(s.doorman.url, CLI);
    tv = await discoverDoorman(s.doorman.url, TV);
  });
  after(() => s.close());

  it('then discovery names the device authorization endpoint and the grant', () => {
    const metadata = cli.serverMetadata();
    assert.equal(metadata.device_authorization_endpoint, `${s.doorman.url}/device/auth`);
    assert.ok(metadata.grant_types_supported?.includes(DEVICE_CODE_GRANT));
  });

  it('then the person enters the code, sees the app and its access, signs in, and the device gets tokens', async () => {
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid email offline_access' });
    assert.match(started.user_code, USER_CODE);
    assert.equal(started.verification_uri, entryUrl());
    assert.ok(started.expires_in > 590 && started.expires_in <= 600, String(started.expires_in));
    const tokens = pollDevice(cli, started);

    const browser = newBrowser();
    const entry = await browser.visit(started.verification_uri);
    assert.equal(entry.status, 200);
    assert.match(entry.body, /<label for="user_code">Code from your device<\/label>/);
    // Typed as people do: lower case, no dash.
    const confirm = await browser.submit(entry, '/device', { user_code: started.user_code.toLowerCase().replace('-', '') });
    assert.equal(confirm.status, 200, confirm.body);
    assert.match(confirm.body, /Sign in to Deploy CLI on your device\?/);
    assert.match(confirm.body, new RegExp(`<p class="user-code">${started.user_code}</p>`));
    assert.match(confirm.body, /Your email address/);
    assert.match(confirm.body, /Access while you are away/);

    const login = await browser.submit(formWith(confirm, 'confirm'), '/device');
    assert.match(login.body, /Sign in to Deploy CLI/);
    const done = await chooseUpstream(browser, login, 'google', ALICE.sub);
    assert.equal(done.status, 200, done.body);
    assert.match(done.body, /Deploy CLI is now signed in on your device/);

    const result = await tokens;
    assert.equal((await oidc.fetchUserInfo(cli, result.access_token, result.claims()!.sub)).email, ALICE.email!.toLowerCase());
    assert.ok(result.refresh_token, 'offline_access gives the CLI a refresh token');
    const refreshed = await oidc.refreshTokenGrant(cli, result.refresh_token);
    assert.equal(refreshed.claims()?.sub, result.claims()?.sub);
  });

  it('then a code already approved is refused, to the person and to a second poll', async () => {
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const tokens = pollDevice(cli, started);
    const browser = newBrowser();
    const confirm = await enterCode(browser, started.user_code);
    await chooseUpstream(browser, await browser.submit(formWith(confirm, 'confirm'), '/device'), 'google', ALICE.sub);
    await tokens;

    const again = await enterCode(newBrowser(), started.user_code);
    assert.equal(again.status, 400);
    assert.match(again.body, /This code was already used/);
    assert.doesNotMatch(again.body, /Sign in to Deploy CLI/);
    assert.equal(await deviceError(pollDevice(cli, started)), 'invalid_grant');
  });

  it('then a person already signed in only confirms, and a second device needs its own code', async () => {
    const browser = newBrowser();
    const first = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const firstTokens = pollDevice(cli, first);
    await chooseUpstream(browser, await browser.submit(formWith(await enterCode(browser, first.user_code), 'confirm'), '/device'), 'google', ALICE.sub);
    await firstTokens;

    const second = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    assert.notEqual(second.user_code, first.user_code);
    const secondTokens = pollDevice(cli, second);
    const done = await browser.submit(formWith(await enterCode(browser, second.user_code), 'confirm'), '/device');
    assert.match(done.body, /Deploy CLI is now signed in on your device/);
    assert.equal((await secondTokens).claims()?.sub, (await firstTokens).claims()?.sub);
  });

  it('then once one person has confirmed a code, another who has it open cannot take it over', async () => {
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const tokens = pollDevice(cli, started);
    const owner = newBrowser();
    const other = newBrowser();
    const ownerConfirm = await enterCode(owner, started.user_code);
    const otherConfirm = await enterCode(other, started.user_code);
    const login = await owner.submit(formWith(ownerConfirm, 'confirm'), '/device');
    const late = await other.submit(formWith(otherConfirm, 'confirm'), '/device');
    assert.equal(late.status, 400);
    assert.match(late.body, /This code was already used/);
    const lateDeny = await other.submit(formWith(await other.visit(entryUrl()), 'user_code'), '/device', { user_code: started.user_code, abort: 'yes' });
    assert.match(lateDeny.body, /This code was already used/, 'nor deny it for the owner');
    await chooseUpstream(owner, login, 'google', ALICE.sub);
    assert.ok((await tokens).access_token);
  });

  it('then a device approved by a person who signs out of the browser at once still gets its tokens', async () => {
    // The device is not the browser: oidc-provider would bind a code without offline_access
    // to the browser session, so a sign-out before the next poll (or a poll landing while
    // the approval is being saved) cost the device the sign-in the person had just given.
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const browser = newBrowser();
    await chooseUpstream(browser, await browser.submit(formWith(await enterCode(browser, started.user_code), 'confirm'), '/device'), 'google', ALICE.sub);
    await browser.submit(await browser.visit(`${s.doorman.url}/session/end`), '/session/end/confirm', { logout: 'yes' });
    const tokens = await pollDevice(cli, started);
    assert.ok(tokens.access_token);
    assert.ok(tokens.claims()?.sub);
  });

  it('then a third-party app asks for consent on Doorman\'s consent page before the device gets tokens', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid profile' });
    const tokens = pollDevice(tv, started);
    const browser = newBrowser();
    const login = await browser.submit(formWith(await enterCode(browser, started.user_code), 'confirm'), '/device');
    const consent = await chooseUpstream(browser, login, 'google', ALICE.sub);
    assert.match(consent.body, /Lobby TV wants to access your account/);
    const done = await browser.submit(consent, '/consent');
    assert.match(done.body, /Lobby TV is now signed in on your device/);
    const result = await tokens;
    assert.equal((await oidc.fetchUserInfo(tv, result.access_token, result.claims()!.sub)).name, ALICE.name);
  });

  it('then when the person denies on the confirmation page, the device gets access_denied', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const outcome = deviceError(pollDevice(tv, started));
    const browser = newBrowser();
    const denied = await browser.submit(formWith(await enterCode(browser, started.user_code), 'abort'), '/device');
    assert.equal(denied.status, 200);
    assert.match(denied.body, /You denied access: nothing was shared/);
    assert.equal(await outcome, 'access_denied');
  });

  it('then when the person cancels at the login page, the device gets access_denied', async () => {
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const outcome = deviceError(pollDevice(cli, started));
    const browser = newBrowser();
    const login = await browser.submit(formWith(await enterCode(browser, started.user_code), 'confirm'), '/device');
    const cancelled = await browser.submit(login, '/abort');
    assert.match(cancelled.body, /You denied access/);
    assert.equal(await outcome, 'access_denied');
  });

  it('then a wrong code gets a page in the person\'s language, and the form keeps what they typed', async () => {
    const browser = newBrowser();
    browser.headers['accept-language'] = 'de-CH, en;q=0.5';
    const wrong = await enterCode(browser, 'BCDF-GHJK');
    assert.equal(wrong.status, 400);
    assert.equal(wrong.headers.get('content-language'), 'de');
    assert.match(wrong.body, /Dieser Code ist nicht gültig/);
    assert.match(wrong.body, /ein Code gilt 10 Minuten/);
    assert.match(wrong.body, /value="BCDF-GHJK"/);
    assert.match(wrong.body, /aria-invalid="true"/);
  });

  it('then an expired code says so to the person, and the device gets expired_token', async () => {
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    // The code's own expiry moved into the past, as the clock would after 10 minutes.
    await s.db.query(`UPDATE "OidcModel" SET payload = jsonb_set(payload, '{exp}', to_jsonb(extract(epoch from now())::int - 1)) WHERE model = 'DeviceCode' AND "userCode" = $1`, [started.user_code.replace('-', '')]);
    const page = await enterCode(newBrowser(), started.user_code);
    assert.equal(page.status, 400);
    assert.match(page.body, /This code has expired/);
    assert.equal(await deviceError(pollDevice(cli, started)), 'expired_token');
  });

  it('then a device code polled by another client is refused, and its own client still gets the tokens', async () => {
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const browser = newBrowser();
    await chooseUpstream(browser, await browser.submit(formWith(await enterCode(browser, started.user_code), 'confirm'), '/device'), 'google', ALICE.sub);
    assert.equal(await deviceError(pollDevice(tv, started)), 'invalid_grant');
    assert.ok((await pollDevice(cli, started)).access_token);
  });

  it('then a client without the device grant gets unauthorized_client, and an unknown one invalid_client', async () => {
    const wiki = await discoverDoorman(s.doorman.url);
    assert.equal(await deviceError(oidc.initiateDeviceAuthorization(wiki, { scope: 'openid' })), 'unauthorized_client');
    const nobody = await discoverDoorman(s.doorman.url, { clientId: 'no-such-app' });
    assert.equal(await deviceError(oidc.initiateDeviceAuthorization(nobody, { scope: 'openid' })), 'invalid_client');
    const wrongSecret = await discoverDoorman(s.doorman.url, { clientId: APP.clientId, clientSecret: 'wrong' });
    assert.equal(await deviceError(oidc.initiateDeviceAuthorization(wrongSecret, { scope: 'openid' })), 'invalid_client', 'authentication comes before the grant check');
  });

  it('then wrong client secrets at /device/auth count like those at /token, and past the limit even the right one gets 429', async () => {
    const ip = `203.0.113.${nextAddress++}`;
    const deviceAuth = (secret: string) => fetch(`${s.doorman.url}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
      body: new URLSearchParams({ client_id: APP.clientId, client_secret: secret, scope: 'openid' }),
    });
    for (let i = 0; i < 10; i++) assert.equal((await deviceAuth('wrong')).status, 401, `try ${i + 1}`);
    const refused = await deviceAuth(APP.clientSecret);
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
  });

  it('then verification_uri_complete fills the code in and still asks the person to continue and confirm', async () => {
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const browser = newBrowser();
    const entry = await browser.visit(started.verification_uri_complete!);
    assert.equal(entry.status, 200);
    assert.doesNotMatch(entry.body, /<script/);
    assert.match(entry.body, new RegExp(`name="user_code"[^>]*value="${started.user_code}"`));
    const confirm = await browser.submit(entry, '/device', { user_code: started.user_code });
    assert.match(confirm.body, /Sign in to Deploy CLI on your device\?/);
  });

  it('then the confirmation page lists only access the app can get, never words the device chose', async () => {
    // With `resource`, oidc-provider keeps every scope the device sent; the page is where a
    // person decides whether a code someone sent them is safe (RFC 8628 §5.4), so text of
    // the device's own (or one of Doorman's messages, or the admin scope of another app) must not show there.
    const scope = 'openid email orders:read reports:write Read-only:_checked_by_your_IT_team device.done scope.admin';
    const started = await oidc.initiateDeviceAuthorization(cli, { scope, resource: ORDERS });
    const confirm = await enterCode(newBrowser(), started.user_code);
    assert.equal(confirm.status, 200, confirm.body.slice(0, 300));
    const listed = [...confirm.body.match(/<ul class="scopes">([\s\S]*?)<\/ul>/)![1]!.matchAll(/<li>([^<]*)<\/li>/g)].map((m) => m[1]);
    assert.deepEqual(listed, ['Your email address', 'orders:read']);
  });

  it('then odd input in the code field gets the entry page again, never an error of Doorman\'s', async () => {
    const browser = newBrowser();
    const inputs = ['ＢＣＤＦ-ＧＨＪＫ', 'BCDF\u0000GHJK', '<script>alert(1)</script>', 'B'.repeat(40_000), '', 'B'.repeat(200_000)];
    for (const userCode of inputs) {
      const page = await enterCode(browser, userCode);
      assert.equal(page.status, 400, `${userCode.slice(0, 20)}: ${page.body.slice(0, 300)}`);
      assert.match(page.body, /<input type="text" id="user_code"/);
      assert.doesNotMatch(page.body, /<script>alert/);
      assert.ok(page.body.length < 10_000, 'an oversize code is not echoed back');
    }
    const prefilled = await browser.visit(`${entryUrl()}?user_code=${encodeURIComponent('"><script>alert(1)</script>')}`);
    assert.equal(prefilled.status, 200);
    assert.doesNotMatch(prefilled.body, /<script>alert/);
  });

  it('then a code posted without the page\'s form token (or twice) gets the form again', async () => {
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const browser = newBrowser();
    const forged = await browser.request(entryUrl(), { method: 'POST', form: { user_code: started.user_code, confirm: 'yes' } });
    assert.equal(forged.status, 403);
    assert.match(forged.body, /Form expired/);
    assert.match(forged.body, /href="http:\/\/127\.0\.0\.1:\d+\/device">Enter a code again</);
    const resumeWithoutSession = await newBrowser().request(`${entryUrl()}/not-a-sign-in`);
    assert.equal(resumeWithoutSession.status, 400);

    const entry = await browser.visit(entryUrl());
    const badToken = await browser.submit(entry, '/device', { user_code: started.user_code, xsrf: 'not-the-token' });
    assert.equal(badToken.status, 400);
    assert.match(badToken.body, /This form expired or was sent twice/);

    const confirm = await enterCode(browser, started.user_code);
    await browser.submit(formWith(confirm, 'confirm'), '/device');
    const twice = await browser.submit(formWith(confirm, 'confirm'), '/device');
    assert.equal(twice.status, 400);
    assert.match(twice.body, /This form expired or was sent twice/);
  });

  it('then guessing codes is refused with 429 and Retry-After after 20 tries from one address, right code or not', async () => {
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const guesser = newBrowser();
    let page = await guesser.visit(entryUrl());
    for (let i = 0; i < 20; i++) {
      page = await guesser.submit(page, '/device', { user_code: `BCDF-${'GHJKLMNPQRSTVWXZBCDF'.slice(i, i + 4).padEnd(4, 'B')}` });
      assert.equal(page.status, 400, `try ${i + 1}`);
    }
    const refused = await guesser.request(entryUrl(), { method: 'POST', form: { user_code: started.user_code } });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.match(refused.body, /Too many sign-in attempts/);
    assert.match(refused.body, /href="\/device">Enter a code again</);
    const spelled = await guesser.request(`${s.doorman.url}/DEVICE/`, { method: 'POST', form: { user_code: started.user_code } });
    assert.equal(spelled.status, 429, 'the router ignores case and a trailing slash, and so does the limit');

    const someoneElse = await enterCode(newBrowser(), started.user_code);
    assert.match(someoneElse.body, /Sign in to Deploy CLI on your device\?/, 'another address is not affected');
  });
});

describe('when the database is unreachable during a device sign-in', () => {
  let pg: OwnPostgres;
  let s: Scenario;
  before(async () => {
    pg = await startOwnPostgres('doorman-device-outage-');
    s = await startScenario({ databaseUrl: pg.url, moreClients: [CLI] });
  });
  after(async () => {
    await s?.close();
    await pg?.close();
  });

  it('then the pages say 503 with Retry-After, the device hears temporarily_unavailable, and afterwards the same code works', async () => {
    const cli = await discoverDoorman(s.doorman.url, CLI);
    const started = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid' });
    const browser = new Browser();
    browser.headers.accept = 'text/html'; // as browsers send it: oidc-provider then answers its errors with a page
    const entry = await browser.visit(started.verification_uri);

    await pg.stop();
    for (const page of [await browser.submit(entry, '/device', { user_code: started.user_code }), await browser.request(started.verification_uri)]) {
      assert.equal(page.status, 503, page.body.slice(0, 300));
      assert.ok(Number(page.headers.get('retry-after')) > 0);
      assert.match(page.body, /Error code: temporarily_unavailable/);
    }
    const post = (path: string, form: Record<string, string>) => fetch(new URL(path, s.doorman.url), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: CLI.clientId, ...form }),
    });
    for (const answer of [await post('/token', { grant_type: DEVICE_CODE_GRANT, device_code: started.device_code }), await post('/device/auth', { scope: 'openid' })]) {
      assert.equal(answer.status, 503);
      assert.ok(Number(answer.headers.get('retry-after')) > 0);
      assert.equal((await answer.json() as { error: string }).error, 'temporarily_unavailable');
    }

    await pg.start();
    const tokens = pollDevice(cli, started);
    const confirm = await browser.submit(await browser.visit(started.verification_uri), '/device', { user_code: started.user_code });
    await chooseUpstream(browser, await browser.submit(formWith(confirm, 'confirm'), '/device'), 'google', ALICE.sub);
    assert.ok((await tokens).access_token);
  });
});

describe('when a CLI is written as the README shows', () => {
  let s: Scenario;
  before(async () => {
    s = await startScenario({ moreClients: [CLI] });
  });
  after(() => s.close());

  it('then the openid-client example prints the code, and signs in with a refresh token once the person is done', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /## Device flow[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)![1]!;
    // Only the issuer changes, and plain http is allowed for this loopback test server.
    const script = example.replace("new URL('https://login.example.com'), 'deploy-cli')",
      `new URL('${s.doorman.url}'), 'deploy-cli', undefined, undefined, { execute: [client.allowInsecureRequests] })`);
    assert.notEqual(script, example, 'the README example still starts from discovery of https://login.example.com');
    const cli = spawn(process.execPath, ['--input-type=module', '--eval', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
    let output = '';
    cli.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    cli.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const exited = once(cli, 'exit');
    try {
      while (!/enter \S+/.test(output)) {
        assert.equal(cli.exitCode, null, output);
        await new Promise((ok) => setTimeout(ok, 50));
      }
      const [, uri, userCode] = /Open (\S+) and enter (\S+)/.exec(output)!;
      const browser = new Browser();
      const confirm = await browser.submit(await browser.visit(uri!), '/device', { user_code: userCode! });
      await chooseUpstream(browser, await browser.submit(formWith(confirm, 'confirm'), '/device'), 'google', ALICE.sub);
      const [code] = await exited;
      assert.equal(code, 0, output);
      assert.match(output, /signed in as \S+ - refresh token: true/);
    } finally {
      cli.kill();
    }
  });
});

describe('when no client has the device grant', () => {
  let s: Scenario;
  before(async () => {
    s = await startScenario();
  });
  after(() => s.close());

  it('then discovery does not name the device flow and its pages do not exist', async () => {
    const metadata = (await discoverDoorman(s.doorman.url)).serverMetadata();
    assert.equal(metadata.device_authorization_endpoint, undefined);
    assert.ok(!metadata.grant_types_supported?.includes(DEVICE_CODE_GRANT));
    const page = await new Browser().visit(`${s.doorman.url}/device`);
    assert.equal(page.status, 404);
  });
});
