import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { buildConfig } from '../../src/config/load.ts';
import { ALICE, KIM_IDN_ASCII, OUTSIDER, STRING_VERIFIED } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { startLogoutReceiver, type LogoutReceiver } from '../helpers/logout-receiver.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { setAdmin } from '../../src/accounts/admin.ts';
import { createLogger } from '../../src/log.ts';

const NO_LOGOUT_APP = { clientId: 'chat', clientSecret: 'chat-secret-0123456789' };
const HANG_LIMIT_MS = 2000;
const SECOND_APP = { clientId: 'board', clientSecret: 'board-secret-0123456789' };

/**
 * OIDC Back-Channel Logout 1.0: the app (APP, an openid-client RP) registered a
 * backchannelLogoutUri served by a receiver that validates each Logout Token against
 * Doorman's JWKS. Every way a person's session ends must reach it, in the background.
 */
describe('when an app registered for back-channel logout and a person signs out', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  let receiver: LogoutReceiver;
  const logLines: string[] = [];
  const url = (path: string) => new URL(path, s.doorman.url);

  before(async () => {
    receiver = await startLogoutReceiver();
    s = await startScenario({
      client: { firstParty: true, backchannelLogoutUri: receiver.uriFor(APP.clientId) },
      otherClients: [
        { ...NO_LOGOUT_APP, firstParty: true, redirectUris: [APP.redirectUri] },
        { ...SECOND_APP, firstParty: true, redirectUris: [APP.redirectUri], backchannelLogoutUri: receiver.uriFor(SECOND_APP.clientId) },
      ],
      config: { backchannelLogout: { timeoutMs: HANG_LIMIT_MS, retryDelayMs: 200, maxAttempts: 3 } },
      log: createLogger('debug', (line) => logLines.push(line)),
    });
    rp = await discoverDoorman(s.doorman.url);
    await receiver.trust(s.doorman.url);
  });
  after(async () => {
    await s.close();
    await receiver.close();
  });

  /** A person signs in to APP in a fresh browser; resolves to it with the ID token's claims. */
  async function signsIn(who: string) {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'google', who);
    const claims = tokens.claims()!;
    assert.ok(claims.sid, 'the ID token carries the sid the logout token will name');
    return { browser, idToken: tokens.id_token!, sub: claims.sub, sid: claims.sid as string };
  }
  const forSession = (sid: string) => (l: { claims: { sid?: string } }) => l.claims.sid === sid;

  /** Alice, an admin, in the console in her own browser. */
  async function adminConsole() {
    const admin = new Browser();
    await chooseUpstream(admin, await admin.visit(url('/admin')), 'google', ALICE.sub, {}, 'never');
    const adminId = (await s.doorman.db.identity.findUniqueOrThrow({ where: { provider_subject: { provider: 'google', subject: ALICE.sub } } })).accountId;
    await setAdmin(s.doorman.db, adminId, true, 'test');
    return admin;
  }

  it('then discovery advertises back-channel logout with sessions', async () => {
    const meta = rp.serverMetadata();
    assert.equal(meta.backchannel_logout_supported, true);
    assert.equal(meta.backchannel_logout_session_supported, true);
    assert.equal(meta.frontchannel_logout_supported, undefined, 'front-channel logout is not offered');
  });

  it('then RP-initiated logout sends APP a valid logout token naming the person and the session', async () => {
    const person = await signsIn(OUTSIDER.sub);
    const end = oidc.buildEndSessionUrl(rp, { id_token_hint: person.idToken, post_logout_redirect_uri: APP.postLogout });
    const confirm = await person.browser.visit(end);
    const back = await person.browser.submit(confirm, '/session/end/confirm', { logout: 'yes' }, APP.postLogout);
    assert.ok(back.url.href.startsWith(APP.postLogout), back.url.href);
    const logout = await receiver.waitFor(forSession(person.sid));
    assert.equal(logout.claims.sub, person.sub);
    assert.equal(logout.claims.aud, APP.clientId);
    assert.equal(logout.claims.iss, rp.serverMetadata().issuer);
    assert.deepEqual(logout.claims.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
    assert.equal(logout.claims.nonce, undefined);
  });

  it('then signing out from the Account page reaches APP too', async () => {
    const person = await signsIn(OUTSIDER.sub);
    const confirm = await person.browser.visit(url('/session/end'));
    await person.browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    const logout = await receiver.waitFor(forSession(person.sid));
    assert.equal(logout.claims.sub, person.sub);
  });

  it('then an admin ending the session in the console sends the logout token', async () => {
    const person = await signsIn(OUTSIDER.sub);
    const admin = await adminConsole();
    const page = await admin.visit(url(`/admin/accounts/${person.sub}`));
    const uid = (await s.doorman.db.oidcModel.findFirstOrThrow({ where: { model: 'Session', payload: { path: ['authorizations', APP.clientId, 'sid'], equals: person.sid } } })).uid!;
    const done = await admin.submit(page, `/sessions/${uid}/revoke`);
    assert.match(done.body, /The session was ended/);
    assert.equal((await receiver.waitFor(forSession(person.sid))).claims.sub, person.sub);
  });

  it('then disabling the account signs every session of it out of APP', async () => {
    const first = await signsIn(STRING_VERIFIED.sub);
    const second = await signsIn(STRING_VERIFIED.sub);
    const admin = await adminConsole();
    const confirm = await admin.visit(url(`/admin/accounts/${first.sub}/confirm?action=disable`));
    await admin.submit(confirm, '/disable');
    assert.ok((await s.doorman.db.account.findUniqueOrThrow({ where: { id: first.sub } })).disabledAt);
    await receiver.waitFor(forSession(first.sid));
    await receiver.waitFor(forSession(second.sid));
  });

  it('then merging an account away signs the retired account out of APP', async () => {
    const retired = await signsIn(KIM_IDN_ASCII.sub);
    const survivor = await signsIn(ALICE.sub);
    const admin = await adminConsole();
    const preview = await admin.visit(url(`/admin/accounts/${survivor.sub}/merge?from=${retired.sub}`));
    assert.equal(preview.status, 200, preview.body.slice(0, 300));
    await admin.submit(preview, '/merge');
    assert.ok((await s.doorman.db.account.findUniqueOrThrow({ where: { id: retired.sub } })).retiredAt);
    assert.equal((await receiver.waitFor(forSession(retired.sid))).claims.sub, retired.sub);
    assert.equal(receiver.delivered.some(forSession(survivor.sid)), false, 'the survivor stays signed in');
  });

  it('then signing out of one app tells only that app, and signing out of all tells each with its own sid', async () => {
    const person = await signsIn(OUTSIDER.sub);
    // Same browser, so the Doorman session signs her in to the second app without a login page.
    const boardRp = await discoverDoorman(s.doorman.url, SECOND_APP);
    const req = await buildAuthRequest(boardRp);
    const back = await person.browser.visit(req.url, APP.redirectUri);
    const boardSid = (await redeemCode(boardRp, back.url, req)).claims()!.sid as string;
    assert.notEqual(boardSid, person.sid, 'one sid per app');
    const end = oidc.buildEndSessionUrl(rp, { id_token_hint: person.idToken, post_logout_redirect_uri: APP.postLogout });
    await person.browser.submit(await person.browser.visit(end), '/session/end/confirm', {}, APP.postLogout);
    await receiver.waitFor(forSession(person.sid));
    const all = await person.browser.visit(url('/session/end'));
    await person.browser.submit(all, '/session/end/confirm', { logout: 'yes' });
    const boardLogout = await receiver.waitFor(forSession(boardSid));
    assert.equal(boardLogout.claims.aud, SECOND_APP.clientId);
    assert.equal(boardLogout.path, `/${SECOND_APP.clientId}`);
    assert.equal(receiver.delivered.filter(forSession(person.sid)).length, 1, 'APP was told once');
  });

  it('then an app that first fails is retried, each attempt a new token, and a replayed token is refused by the app', async () => {
    const person = await signsIn(OUTSIDER.sub);
    const before = receiver.requests;
    receiver.script.push('fail');
    const confirm = await person.browser.visit(url('/session/end'));
    await person.browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    const logout = await receiver.waitFor(forSession(person.sid));
    assert.equal(receiver.requests - before, 2, 'one failed attempt, then the delivered one');
    assert.equal(await receiver.post(`/${APP.clientId}`, logout.token), 400, 'the same jti again is a replay');
    assert.equal(await s.doorman.db.backchannelLogout.count(), 0, 'nothing left in the queue');
    assert.ok(logLines.some((l) => l.includes('back-channel logout attempt failed')), 'the failure is logged');
    assert.ok(!logLines.some((l) => l.includes(logout.token) || l.includes(logout.token.split('.')[2]!)), 'the logout token is never logged');
  });

  it('then an app that hangs does not hold up the person\'s page, and gets the token on a later attempt', async () => {
    const person = await signsIn(OUTSIDER.sub);
    receiver.script.push('hang');
    const confirm = await person.browser.visit(url('/session/end'));
    const started = Date.now();
    const done = await person.browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    assert.equal(done.status, 200);
    assert.ok(Date.now() - started < HANG_LIMIT_MS, `the sign-out page took ${Date.now() - started} ms: it waited for the app`);
    const logout = await receiver.waitFor(forSession(person.sid));
    assert.ok(Date.now() - started >= HANG_LIMIT_MS, 'delivered only after the hung attempt hit its time limit');
    assert.equal(logout.claims.sub, person.sub);
  });

  it('then an app without a backchannelLogoutUri gets nothing and nothing is left queued', async () => {
    const chat = await discoverDoorman(s.doorman.url, NO_LOGOUT_APP);
    const browser = new Browser();
    const { tokens } = await signInThrough(chat, browser, 'google', OUTSIDER.sub);
    assert.equal(tokens.claims()!.sid, undefined, 'no sid in ID tokens of an app that takes no logout tokens');
    const before = receiver.requests;
    const confirm = await browser.visit(url('/session/end'));
    await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    await waitUntil(async () => (await s.doorman.db.backchannelLogout.count()) === 0);
    assert.equal(receiver.requests, before);
  });
});

describe('when an app\'s backchannelLogoutUri answers with a redirect', () => {
  let s: Scenario;
  const servers: Server[] = [];
  const seen: { at: string; body: string }[] = [];
  /** A server that records each request; `reply` answers it. */
  async function recorder(at: string, reply: (res: ServerResponse) => void): Promise<string> {
    const server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ at, body });
      reply(res);
    });
    servers.push(server);
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/logout`;
  }

  before(async () => {
    const elsewhere = await recorder('elsewhere', (res) => res.end());
    const app = await recorder('app', (res) => res.writeHead(307, { location: elsewhere }).end());
    s = await startScenario({ client: { firstParty: true, backchannelLogoutUri: app }, config: { backchannelLogout: { timeoutMs: 1000, retryDelayMs: 200, maxAttempts: 2 } } });
  });
  after(async () => {
    await s.close();
    for (const server of servers) server.close();
  });

  it('then the logout token is not sent on to where the redirect points, and the attempts count as failed until Doorman gives up', async () => {
    const browser = new Browser();
    await signInThrough(await discoverDoorman(s.doorman.url), browser, 'google', ALICE.sub);
    await browser.submit(await browser.visit(new URL('/session/end', s.doorman.url)), '/session/end/confirm', { logout: 'yes' });
    await waitUntil(async () => seen.filter((r) => r.at === 'app').length === 2 && (await s.doorman.db.backchannelLogout.count()) === 0);
    assert.ok(seen.every((r) => r.body.startsWith('logout_token=')), 'each attempt POSTs a logout token');
    assert.deepEqual(seen.filter((r) => r.at === 'elsewhere'), [], 'a redirect is never followed (the token would go to another URL)');
  });
});

describe('when a backchannelLogoutUri is not a safe URL', () => {
  const client = (uri: string) => ({ clientId: 'app', redirectUris: ['https://app.example/cb'], backchannelLogoutUri: uri });
  for (const [uri, message] of [
    ['http://app.example/logout', /clients\[0\]\.backchannelLogoutUri: plain http is allowed only for loopback hosts/],
    ['https://app.example/logout#frag', /clients\[0\]\.backchannelLogoutUri: must not contain a fragment/],
    ['javascript://app.example/%0aalert(1)', /clients\[0\]\.backchannelLogoutUri: must be an https URL/],
  ] as const) {
    it(`then ${uri} is refused at start with the key named`, () => {
      assert.throws(() => buildConfig({ clients: [client(uri)] }, {}), message);
    });
  }
});

async function waitUntil(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
