import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/free-port.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE, STRING_VERIFIED } from '../fakes/fake-google.ts';

/**
 * Interop with client software nobody here wrote: a Flask app using Authlib exactly as
 * Authlib's tutorial does (server_metadata_url, authorize_redirect, authorize_access_token,
 * no PKCE settings), run with Debian's Python. A person's browser is driven over HTTP with a
 * cookie jar; the fake Google is the upstream.
 */
const PYTHON = '/usr/bin/python3';
const SCRIPT = new URL('./authlib_app.py', import.meta.url).pathname;

interface FlaskApp { origin: string; process: ChildProcess; close(): Promise<void> }

async function startFlaskApp(port: number, env: Record<string, string>): Promise<FlaskApp> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: install python3-flask and python3-authlib (README "Tests")`);
  const child = spawn(PYTHON, [SCRIPT], { env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const origin = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Bounded wait for Flask's server to listen (it starts in well under a second here).
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`the Authlib app exited: ${stderr}`);
    const ok = await fetch(`${origin}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (attempt >= 100) throw new Error(`the Authlib app did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    origin, process: child,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function json(page: Page): Record<string, unknown> {
  assert.match(page.headers.get('content-type') ?? '', /json/, `${page.url.href}: ${page.status} ${page.body.slice(0, 500)}`);
  return JSON.parse(page.body) as Record<string, unknown>;
}

describe('when a Flask app signs people in through Doorman with Authlib, tutorial style', () => {
  let s: Scenario;
  let flask: FlaskApp;

  before(async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    s = await startScenario({ client: { clientId: 'flask-authlib', name: 'Flask Demo', redirectUris: [`${origin}/auth`], postLogoutRedirectUris: [`${origin}/bye`] } });
    flask = await startFlaskApp(port, { DOORMAN_ISSUER: s.doorman.url, CLIENT_ID: 'flask-authlib', CLIENT_SECRET: APP.clientSecret });
  });
  after(async () => {
    await flask?.close();
    await s?.close();
  });

  /** From the app's /login through Doorman (and Google, and the consent page if shown) back to the app. */
  async function signIn(browser: Browser, who: string): Promise<{ result: Record<string, unknown>; consentShown: boolean }> {
    let page = await browser.visit(`${flask.origin}/login`, `${flask.origin}/auth`);
    if (page.status !== 0) page = await chooseUpstream(browser, page, 'google', who, {}, `${flask.origin}/auth`);
    let consentShown = false;
    if (page.status !== 0) {
      assert.match(page.body, /Flask Demo wants to access your account/, page.body.slice(0, 500));
      assert.match(page.body, /Access while you are away/, 'the consent page names offline access');
      consentShown = true;
      page = await browser.submit(page, '/consent', {}, `${flask.origin}/auth`);
    }
    const back = await browser.visit(page.url);
    return { result: json(back), consentShown };
  }

  it('then it signs in without PKCE (nonce instead), reads the claims and gets a refresh token without prompt=consent', async () => {
    const browser = new Browser();
    const { result, consentShown } = await signIn(browser, ALICE.sub);
    assert.equal(result.error, undefined, JSON.stringify(result));
    assert.equal(consentShown, true, 'a third-party app: consent asked once');
    const [account] = await s.db.query<{ id: string }>('SELECT "accountId" AS id FROM "Identity" WHERE subject = $1', [ALICE.sub]);
    assert.equal(result.sub, account!.id);
    assert.equal(result.id_token_nonce, true, 'Authlib checked the nonce in the ID token');
    assert.equal(result.email, 'alice@example.com');
    assert.equal(result.name, ALICE.name);
    assert.equal(result.has_refresh_token, true);
    assert.match(String(result.scope), /offline_access/);
    const authRequest = browser.history.find((u) => u.origin === s.doorman.url && u.pathname === '/auth')!;
    assert.equal(authRequest.searchParams.has('code_challenge'), false, 'Authlib sent no PKCE');
    assert.ok(authRequest.searchParams.get('nonce'), 'Authlib sent a nonce');
    assert.equal(authRequest.searchParams.has('prompt'), false, 'and no prompt=consent');
  });

  it('then it refreshes with Authlib, rotating the refresh token, and the new access token reads userinfo', async () => {
    const browser = new Browser();
    await signIn(browser, STRING_VERIFIED.sub);
    const refreshed = json(await browser.visit(`${flask.origin}/refresh`));
    assert.deepEqual(refreshed, { new_access_token: true, rotated: true, email: 'bob@example.com' });
    const again = json(await browser.visit(`${flask.origin}/refresh`));
    assert.equal(again.new_access_token, true, 'the rotated refresh token works in turn');
  });

  it('then RP-initiated logout ends the Doorman session, and signing in again asks no consent', async () => {
    const browser = new Browser();
    const first = await signIn(browser, ALICE.sub);
    assert.equal(first.result.has_refresh_token, true);
    const confirm = await browser.visit(`${flask.origin}/logout`);
    assert.equal(confirm.status, 200, confirm.body.slice(0, 300));
    assert.match(confirm.body, /Sign out\?/);
    const bye = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    assert.deepEqual(json(bye), { signed_out: true });
    assert.deepEqual(json(await browser.visit(`${flask.origin}/`)), { signed_in: false, sub: null });

    const tokensBefore = s.google.tokensIssued;
    const again = await signIn(browser, ALICE.sub);
    assert.equal(s.google.tokensIssued, tokensBefore + 1, 'signed out of Doorman: Google asked again');
    assert.equal(again.consentShown, false, 'consent remembered across sign-out');
    assert.equal(again.result.has_refresh_token, true);
  });
});
