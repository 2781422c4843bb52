import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { ALICE } from '../fakes/fake-google.ts';
import { DANA, KIM } from '../fakes/fake-upstreams.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-postgres.ts';
import { startLogoutReceiver, type LogoutReceiver } from '../helpers/logout-receiver.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { signInThrough, switchPerson } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * `signOutUpstream: true` on the generic OIDC upstream (the look-alike, an oidc-provider
 * publishing end_session_endpoint): signing out of Doorman also ends the session there.
 */
describe('when an OIDC upstream is set to be signed out of too', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  let receiver: LogoutReceiver;

  before(async () => {
    receiver = await startLogoutReceiver();
    s = await startScenario({
      with: ['oidc'], upstreams: { oidc: { signOutUpstream: true } },
      client: { firstParty: true, backchannelLogoutUri: receiver.uriFor(APP.clientId) },
      config: { backchannelLogout: { timeoutMs: 800, retryDelayMs: 200 } },
    });
    rp = await discoverDoorman(s.doorman.url);
    await receiver.trust(s.doorman.url);
  });
  after(async () => {
    await s.close();
    await receiver.close();
  });

  /** From the app, through Doorman's sign-out page, answering "all apps"; stops at the upstream's page or the app. */
  async function signOutThroughApp(browser: Browser, idToken: string): Promise<Page> {
    const end = oidc.buildEndSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: APP.postLogout, state: 'app-state' });
    const confirm = await browser.visit(end);
    const next = await browser.request(new URL(findAction(confirm), confirm.url), { method: 'POST', form: { ...hiddenFields(confirm), logout: 'yes' } });
    assert.equal(next.status, 303);
    assert.equal(next.headers.get('referrer-policy'), 'no-referrer', 'the app\'s logout URL (with its ID token) never reaches the upstream as a Referer');
    return browser.follow(next, APP.postLogout);
  }

  it('then the browser is sent to the upstream\'s end_session_endpoint after Doorman\'s own sign-out, and comes back to the app', async () => {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'oidc', DANA.sub);
    const sid = tokens.claims()!.sid as string;
    const upstreamPage = await signOutThroughApp(browser, tokens.id_token!);
    assert.equal(upstreamPage.url.origin, new URL(s.oidcIssuer!.issuer).origin, 'at the upstream');
    const hop = browser.history.find((u) => u.origin === upstreamPage.url.origin && u.pathname === '/session/end')!;
    assert.deepEqual([...hop.searchParams.keys()].sort(), ['client_id', 'post_logout_redirect_uri', 'state'], 'nothing of Doorman\'s tokens goes upstream');
    assert.equal(hop.searchParams.get('post_logout_redirect_uri'), `${s.doorman.url}/upstream/oidc/signed-out`);
    // Doorman's own sign-out is already done: the app got its logout token, the session is gone.
    await receiver.waitFor((l) => l.claims.sid === sid);
    assert.match((await browser.visit(new URL('/account', s.doorman.url))).body, /Example OIDC/, 'Doorman asks to sign in again');
    // The person confirms at the upstream, which returns to Doorman, which returns to the app with its state.
    const back = await browser.submit(upstreamPage, '/session/end/confirm', { logout: 'yes' }, APP.postLogout);
    assert.equal(back.url.href, `${APP.postLogout}?state=app-state`);
    const used = browser.history.find((u) => u.pathname === '/upstream/oidc/signed-out')!;
    const twice = await browser.request(used);
    assert.equal(new URL(twice.headers.get('location')!, s.doorman.url).pathname, '/session/end/success', 'the return works once');
    // The upstream session ended too: signing in again shows the upstream's own sign-in page.
    const again = await browser.visit((await buildAuthRequest(rp)).url);
    const upstreamLogin = await browser.submit(again, '/upstream/oidc');
    assert.match(upstreamLogin.body, /Example OIDC: sign in/);
  });

  it('then signing out of one app only does not go to the upstream', async () => {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'oidc', KIM.sub);
    const end = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP.postLogout });
    const back = await browser.submit(await browser.visit(end), '/session/end/confirm', {}, APP.postLogout);
    assert.ok(back.url.href.startsWith(APP.postLogout));
    assert.ok(!browser.history.some((u) => u.origin === new URL(s.oidcIssuer!.issuer).origin && u.pathname === '/session/end'));
  });

  it('then after another person signs in in the same browser through an upstream without the setting, the sign-out does not go to the first one\'s upstream', async () => {
    const browser = new Browser();
    await signInThrough(rp, browser, 'oidc', DANA.sub);
    const alice = await switchPerson(rp, browser, 'google', ALICE.sub);
    const back = await signOutThroughApp(browser, alice.id_token!);
    assert.ok(back.url.href.startsWith(APP.postLogout), `Alice signed in with Google, which has no signOutUpstream here: ${back.url.href}`);
    assert.ok(!browser.history.some((u) => u.origin === new URL(s.oidcIssuer!.issuer).origin && u.pathname === '/session/end'));
  });

  it('then a return to /upstream/<id>/signed-out with a wrong state shows Doorman\'s signed-out page, never an app URL', async () => {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'oidc', DANA.sub);
    const upstreamPage = await signOutThroughApp(browser, tokens.id_token!);
    assert.equal(upstreamPage.url.origin, new URL(s.oidcIssuer!.issuer).origin);
    const forged = await browser.request(new URL('/upstream/oidc/signed-out?state=forged', s.doorman.url));
    assert.equal(forged.status, 303);
    assert.equal(new URL(forged.headers.get('location')!, s.doorman.url).pathname, '/session/end/success');
    // One try only: after it, even the real state leads to Doorman's page.
    const realState = browser.history.find((u) => u.pathname === '/session/end' && u.searchParams.has('client_id'))!.searchParams.get('state')!;
    const late = await browser.request(new URL(`/upstream/oidc/signed-out?${new URLSearchParams({ state: realState })}`, s.doorman.url));
    assert.equal(new URL(late.headers.get('location')!, s.doorman.url).pathname, '/session/end/success');
  });

  it('then a return to /upstream/<id>/signed-out with an id no upstream has (control or non-Latin-1 characters) is Doorman\'s signed-out page, never a 500', async () => {
    for (const id of ['%0A', '%E2%82%AC', 'nobody', '%3B%20Domain%3Devil.example']) {
      const res = await fetch(new URL(`/upstream/${id}/signed-out?state=x`, s.doorman.url), { redirect: 'manual' });
      assert.equal(res.status, 303, id);
      assert.equal(new URL(res.headers.get('location')!, s.doorman.url).pathname, '/session/end/success', id);
      assert.deepEqual(res.headers.getSetCookie(), [], `${id}: no cookie is touched for an upstream that does not exist`);
    }
  });
});

describe('when the upstream to be signed out of is down', () => {
  let s: Scenario;
  let rp: oidc.Configuration;

  before(async () => {
    s = await startScenario({ with: ['oidc'], upstreams: { oidc: { signOutUpstream: true } }, client: { firstParty: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then Doorman\'s sign-out still completes and the browser goes straight back to the app', async () => {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'oidc', DANA.sub);
    await s.oidcIssuer!.close();
    const end = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP.postLogout });
    const back = await browser.submit(await browser.visit(end), '/session/end/confirm', { logout: 'yes' }, APP.postLogout);
    assert.ok(back.url.href.startsWith(APP.postLogout), back.url.href);
    assert.equal(await s.doorman.db.oidcModel.count({ where: { model: 'Session', accountId: tokens.claims()!.sub } }), 0);
  });
});

describe('when the database is unreachable as a person who signed in upstream confirms the sign-out', () => {
  let pg: OwnPostgres;
  let s: Scenario;
  let rp: oidc.Configuration;

  before(async () => {
    pg = await startOwnPostgres('doorman-upstream-sign-out-outage-');
    s = await startScenario({ databaseUrl: pg.url, with: ['oidc'], upstreams: { oidc: { signOutUpstream: true } }, client: { firstParty: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(async () => {
    await s?.close();
    await pg?.close();
  });

  it('then the page says 503 temporarily_unavailable (not a plain 500), and once it is back the same form signs out and goes upstream', async () => {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'oidc', DANA.sub);
    browser.headers.accept = 'text/html';
    const confirm = await browser.visit(oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP.postLogout }));
    const post = () => browser.request(new URL(findAction(confirm), confirm.url), { method: 'POST', form: { ...hiddenFields(confirm), logout: 'yes' } });

    await pg.stop();
    const down = await post();
    assert.equal(down.status, 503, down.body.slice(0, 300));
    assert.ok(Number(down.headers.get('retry-after')) > 0);
    assert.match(down.body, /Error code: temporarily_unavailable/);

    await pg.start();
    const again = await post();
    assert.equal(again.status, 303);
    assert.equal(new URL(again.headers.get('location')!).origin, new URL(s.oidcIssuer!.issuer).origin, 'on to the upstream\'s end_session_endpoint');
  });
});

function findAction(page: Page): string {
  return /<form[^>]*action="([^"]*\/session\/end\/confirm)"/.exec(page.body)![1]!;
}
function hiddenFields(page: Page): Record<string, string> {
  return Object.fromEntries([...page.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}
