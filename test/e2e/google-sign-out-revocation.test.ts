import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { ALICE, KIM_IDN_ASCII, OUTSIDER } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { signInThrough, switchPerson } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * `signOutUpstream: true` on a Google upstream (with storeTokens): Google has no
 * end-session endpoint, so signing out of all apps revokes the Google tokens Doorman kept
 * for the person at Google's revocation endpoint (the look-alike's), in the background,
 * and deletes them.
 */
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const GOOGLE_SCOPES = ['openid', 'email', 'profile'];
/** offline_access: the app's grant outlives the sign-out, so its access token can still ask for an exchange afterwards. */
const OFFLINE = { scope: 'openid email profile offline_access', prompt: 'consent' };

function exchange(rp: oidc.Configuration, subjectToken: string) {
  return oidc.genericGrantRequest(rp, GRANT, { subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, requested_token_type: ACCESS_TOKEN, audience: 'google' });
}

function revokingScenario() {
  return startScenario({
    upstreams: { google: { storeTokens: true, signOutUpstream: true } },
    client: { firstParty: true, upstreamTokens: [{ upstream: 'google', scopes: GOOGLE_SCOPES }] },
    config: { tokenVault: { keys: [{ id: 'k1', secretEnv: 'VAULT_KEY_1' }] } },
    env: { VAULT_KEY_1: randomBytes(32).toString('base64') },
  });
}

async function storedGoogleRows(s: Scenario, accountId: string): Promise<number> {
  return s.doorman.db.upstreamToken.count({ where: { identity: { accountId, provider: 'google' } } });
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

/** From the app, through Doorman's sign-out page, answering "all apps" (or only this app); resolves at the app. */
async function signOut(s: Scenario, rp: oidc.Configuration, browser: Browser, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, allApps = true) {
  const end = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP.postLogout });
  const back = await browser.submit(await browser.visit(end), '/session/end/confirm', allApps ? { logout: 'yes' } : {}, APP.postLogout);
  assert.ok(back.url.href.startsWith(APP.postLogout), back.url.href);
  if (allApps) assert.equal(await s.doorman.db.oidcModel.count({ where: { model: 'Session', accountId: tokens.claims()!.sub } }), 0, 'Doorman\'s session ended');
}

describe('when a Google upstream with storeTokens and signOutUpstream is signed out of', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await revokingScenario();
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then Google sees the revocation, the stored tokens are gone, and token exchange answers invalid_grant; another person\'s tokens stay', async () => {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'google', ALICE.sub, {}, OFFLINE);
    const alice = tokens.claims()!.sub;
    const kim = await signInThrough(rp, new Browser(), 'google', KIM_IDN_ASCII.sub, {}, OFFLINE);
    const upstreamToken = (await exchange(rp, tokens.access_token)).access_token;
    assert.equal((await fetch(`${s.google.issuer}/v1/userinfo`, { headers: { authorization: `Bearer ${upstreamToken}` } })).status, 200);
    assert.equal(await storedGoogleRows(s, alice), 1);

    await signOut(s, rp, browser, tokens);
    await until('Google saw the revocation', () => s.google.revocations.includes(ALICE.sub));
    assert.deepEqual(s.google.revocations, [ALICE.sub], 'only the person who signed out');
    assert.equal(await storedGoogleRows(s, alice), 0);
    assert.equal((await fetch(`${s.google.issuer}/v1/userinfo`, { headers: { authorization: `Bearer ${upstreamToken}` } })).status, 401, 'revoked at Google');
    const dropped = await s.doorman.db.auditEvent.findFirst({ where: { type: 'upstream-tokens.dropped', accountId: alice } });
    assert.ok(dropped, 'the deletion is audited');
    assert.doesNotMatch(JSON.stringify(dropped), /ya29\.|1\/\/0/, 'no token in the audit log');

    // The app's grant outlived the sign-out (offline_access); its token is still good at Doorman, the Google one is not kept.
    await assert.rejects(exchange(rp, tokens.access_token), (err: oidc.ResponseBodyError) => {
      assert.equal(err.error, 'invalid_grant');
      assert.match(err.error_description ?? '', /no google tokens are stored/);
      return true;
    });
    assert.ok((await exchange(rp, kim.tokens.access_token)).access_token, 'Kim\'s tokens are untouched');
  });

  it('then when another person signs in in the same browser (ending the first one\'s session), only an explicit sign-out revokes, and only the signed-out person\'s tokens', async () => {
    const browser = new Browser();
    const alice = (await signInThrough(rp, browser, 'google', ALICE.sub, {}, OFFLINE)).tokens.claims()!.sub;
    const before = s.google.revocations.length;
    const eve = await switchPerson(rp, browser, 'google', OUTSIDER.sub);
    await sleep(500);
    assert.equal(s.google.revocations.length, before, 'switching people is not a sign-out of Google');
    assert.equal(await storedGoogleRows(s, alice), 1);
    await signOut(s, rp, browser, eve);
    await until('Eve\'s tokens were deleted', async () => (await storedGoogleRows(s, eve.claims()!.sub)) === 0);
    await until('Google saw the revocation', () => s.google.revocations.length === before + 1);
    assert.equal(s.google.revocations.at(-1), OUTSIDER.sub);
    assert.equal(await storedGoogleRows(s, alice), 1, 'Alice\'s tokens stay');
  });

  it('then signing out of one app only revokes nothing', async () => {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'google', KIM_IDN_ASCII.sub, {}, OFFLINE);
    const before = s.google.revocations.length;
    await signOut(s, rp, browser, tokens, false);
    await sleep(500);
    assert.equal(s.google.revocations.length, before);
    assert.equal(await storedGoogleRows(s, tokens.claims()!.sub), 1);
  });

  it('then with Google\'s revocation endpoint down or slow, the sign-out completes at once and the tokens are deleted all the same', async () => {
    for (const fault of [{ kind: 'answer', status: 503, contentType: 'text/html', body: '<h1>503</h1>' }, { kind: 'slow', delayMs: 10_000 }] as const) {
      const browser = new Browser();
      const { tokens } = await signInThrough(rp, browser, 'google', ALICE.sub, {}, OFFLINE);
      const before = s.google.revocations.length;
      s.google.faults['/revoke'] = fault;
      try {
        const started = Date.now();
        await signOut(s, rp, browser, tokens);
        assert.ok(Date.now() - started < 2000, `${fault.kind}: the sign-out did not wait for Google (${Date.now() - started} ms)`);
        await until(`${fault.kind}: the tokens were deleted`, async () => (await storedGoogleRows(s, tokens.claims()!.sub)) === 0);
        assert.equal(s.google.revocations.length, before, `${fault.kind}: nothing was revoked at Google`);
      } finally {
        delete s.google.faults['/revoke'];
      }
    }
  });
});
