import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { randomUUID } from 'node:crypto';
import { setAdmin } from '../../src/accounts/admin.ts';
import { createAccountWithIdentity } from '../../src/accounts/repository.ts';
import { ALICE, OUTSIDER } from '../fakes/fake-google.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * What the console's actions do to a person's access, seen from her app (openid-client)
 * and her browser. Eve uses the third-party app APP; Alice is the admin.
 */
describe('when an admin acts on an account in the console', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  const url = (path: string) => new URL(path, s.doorman.url);
  const idOf = async (sub: string) => (await s.doorman.db.identity.findUniqueOrThrow({ where: { provider_subject: { provider: 'google', subject: sub } } })).accountId;

  before(async () => {
    s = await startScenario({ with: ['github'] });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  /** Eve signs in to the app with offline_access, allowing it on the consent page if asked. */
  async function eveSignsIn() {
    const browser = new Browser();
    const req = await buildAuthRequest(rp, { scope: 'openid email offline_access' });
    let page = await browser.visit(req.url, APP.redirectUri);
    if (/Continue with Google/.test(page.body)) page = await chooseUpstream(browser, page, 'google', OUTSIDER.sub, {}, APP.redirectUri);
    if (!page.url.href.startsWith(APP.redirectUri)) page = await browser.submit(page, '/consent', {}, APP.redirectUri);
    const tokens = await redeemCode(rp, page.url, req);
    assert.ok(tokens.refresh_token);
    return { browser, tokens, accountId: await idOf(OUTSIDER.sub) };
  }

  /** Alice, an admin, in her own browser at Eve's account page. */
  async function adminOpens(accountId: string): Promise<{ admin: Browser; page: Page; adminId: string }> {
    const admin = new Browser();
    const login = await admin.visit(url('/admin'));
    await chooseUpstream(admin, login, 'google', ALICE.sub, {}, 'never');
    const adminId = await idOf(ALICE.sub);
    await setAdmin(s.doorman.db, adminId, true, 'test');
    const page = await admin.visit(url(`/admin/accounts/${accountId}`));
    assert.equal(page.status, 200, page.body.slice(0, 300));
    return { admin, page, adminId };
  }
  const lastAudit = (accountId: string, type: string) => s.doorman.db.auditEvent.findFirstOrThrow({ where: { accountId, type }, orderBy: { createdAt: 'desc' } });

  it('then revoking a refresh token ends it and its access tokens, and the page never shows the token itself', async () => {
    const eve = await eveSignsIn();
    const { admin, page, adminId } = await adminOpens(eve.accountId);
    assert.ok(!page.body.includes(eve.tokens.refresh_token!), 'refresh token shown');
    assert.ok(!page.body.includes(eve.tokens.access_token), 'access token shown');
    const grantId = (await s.doorman.db.oidcModel.findFirstOrThrow({ where: { model: 'RefreshToken', id: eve.tokens.refresh_token! } })).grantId!;
    const done = await admin.submit(page, `/grants/${grantId}/revoke`);
    assert.match(done.body, /refresh token and everything issued with it were revoked/);
    await assert.rejects(oidc.refreshTokenGrant(rp, eve.tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');
    assert.equal((await oidc.tokenIntrospection(rp, eve.tokens.access_token)).active, false);
    assert.equal((await lastAudit(eve.accountId, 'grant.revoked')).actor, `account:${adminId}`);
  });

  it('then ending a session signs that browser out of Doorman, and the page never shows the session cookie', async () => {
    const eve = await eveSignsIn();
    const sessionCookie = (await eve.browser.jar.getCookies(url('/auth').href)).find((c) => c.key === '_session')!;
    const { admin, page, adminId } = await adminOpens(eve.accountId);
    assert.ok(!page.body.includes(sessionCookie.value), 'session cookie shown');
    const uid = (await s.doorman.db.oidcModel.findFirstOrThrow({ where: { model: 'Session', id: sessionCookie.value } })).uid!;
    const done = await admin.submit(page, `/sessions/${uid}/revoke`);
    assert.match(done.body, /The session was ended/);
    // Her browser must sign in again: the Account page sends her to the login page.
    const account = await eve.browser.visit(url('/account'));
    assert.match(account.body, /Continue with Google/);
    assert.equal((await lastAudit(eve.accountId, 'session.revoked')).actor, `account:${adminId}`);
  });

  it('then revoking an app\'s consent forgets it and revokes the app\'s tokens', async () => {
    const eve = await eveSignsIn();
    const { admin, page } = await adminOpens(eve.accountId);
    const done = await admin.submit(page, `/consents/${APP.clientId}/revoke`);
    assert.match(done.body, /access was withdrawn/);
    assert.equal(await s.doorman.db.consent.count({ where: { accountId: eve.accountId } }), 0);
    await assert.rejects(oidc.refreshTokenGrant(rp, eve.tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');
  });

  it('then signing out everywhere, after its confirmation, revokes every session, grant and token', async () => {
    const eve = await eveSignsIn();
    const { admin } = await adminOpens(eve.accountId);
    const confirm = await admin.visit(url(`/admin/accounts/${eve.accountId}/confirm?action=sign-out`));
    assert.match(confirm.body, /Sign this account out everywhere\?/);
    const done = await admin.submit(confirm, '/sign-out');
    assert.match(done.body, /Every session, grant and token of this account was revoked/);
    assert.equal(await s.doorman.db.oidcModel.count({ where: { accountId: eve.accountId } }), 0);
    await assert.rejects(oidc.refreshTokenGrant(rp, eve.tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');
  });

  it('then a search with more results than a page pages through them without repeats', async () => {
    const tag = `pager${randomUUID().slice(0, 8)}`;
    await s.doorman.db.$transaction(async (tx) => {
      for (let i = 0; i < 27; i++) {
        await createAccountWithIdentity(tx, { connectorId: 'github', subject: `${tag}-${i}`, email: `${tag}-${i}@example.org`, emailVerified: true, groups: [], raw: {} }, new Date());
      }
    });
    const { admin } = await adminOpens((await eveSignsIn()).accountId);
    const ids = (page: Page) => [...page.body.matchAll(/<a class="mono" href="\/admin\/accounts\/([^"]+)"/g)].map((m) => m[1]!);
    const first = await admin.visit(url(`/admin?q=${tag}`));
    const next = /<a href="([^"]+)">Next page<\/a>/.exec(first.body)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(next, 'a next page link');
    const second = await admin.visit(url(next));
    assert.equal(ids(first).length, 25);
    assert.equal(ids(second).length, 2);
    assert.equal(new Set([...ids(first), ...ids(second)]).size, 27);
    assert.doesNotMatch(second.body, /Next page/);
  });

  it('then a search is taken literally: wildcards match themselves, and a NUL, a repeated or malformed term, an odd cursor or an overlong term is a clear answer, never a 500', async () => {
    const tag = `lit${randomUUID().slice(0, 8)}`;
    await s.doorman.db.$transaction(async (tx) => {
      for (const email of [`${tag}_a@example.org`, `${tag}xa@example.org`, `${tag}%b@example.org`]) {
        await createAccountWithIdentity(tx, { connectorId: 'github', subject: email, email, emailVerified: true, groups: [], raw: {} }, new Date());
      }
    });
    const { admin } = await adminOpens((await eveSignsIn()).accountId);
    const shown = (page: Page) => [...page.body.matchAll(/<a class="mono" href="\/admin\/accounts\/([^"]+)"/g)].length;
    const search = (q: string, extra = '') => admin.visit(url(`/admin?q=${encodeURIComponent(q)}${extra}`));
    assert.equal(shown(await search(`${tag}_a`)), 1, '_ is not a wildcard');
    assert.equal(shown(await search(`${tag}%`)), 1, '% is not a wildcard');
    assert.equal(shown(await search(`${tag}\\`)), 0, 'a backslash is not an escape');
    for (const [q, extra] of [['a\u0000bc', ''], ['abc', '&q=%ED%A0%80'], ['%'.repeat(200), ''], [tag, '&cursor=not-an-id'], [tag, '&cursor=%00']] as const) {
      const page = await search(q, extra);
      assert.ok(page.status === 200 || page.status === 400, `${JSON.stringify(q).slice(0, 40)} ${extra}: ${page.status}`);
    }
    assert.equal((await search('x'.repeat(201))).status, 400);
  });

  it('then linking an identity, granting admin and setting the primary email are done and audited', async () => {
    const eve = await eveSignsIn();
    const { admin, page, adminId } = await adminOpens(eve.accountId);
    const linked = await admin.submit(page, '/identities', { provider: 'github', subject: '424242', email: 'eve@github.example' });
    assert.match(linked.body, /The identity was linked/);
    const identity = await s.doorman.db.identity.findUniqueOrThrow({ where: { provider_subject: { provider: 'github', subject: '424242' } } });
    assert.equal(identity.accountId, eve.accountId);
    assert.equal(identity.emailVerified, false, 'a pre-provisioned email is not verified by anyone');
    const granted = await admin.submit(linked, `${eve.accountId}/admin`);
    assert.match(granted.body, /now holds the admin role/);
    const emailSet = await admin.submit(granted, '/email', { email: 'eve@other.org' });
    assert.match(emailSet.body, /Apps now see this email/);
    // Her primary email was that address already, so only the link and the grant are new events.
    for (const type of ['identity.linked', 'admin.granted']) assert.equal((await lastAudit(eve.accountId, type)).actor, `account:${adminId}`, type);
  });
});
