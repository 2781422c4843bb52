import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, type Page } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE, OUTSIDER, STRING_VERIFIED } from '../fakes/fake-google.ts';

/**
 * Refresh tokens the way apps ask for them (offline_access without prompt=consent) and
 * consents remembered across sign-outs until revoked. APP ("Team Wiki") is third-party;
 * INTRANET is first-party.
 */
const INTRANET = { clientId: 'intranet', clientSecret: APP.clientSecret } as const;

function isAtApp(page: Page): boolean {
  return page.url.href.startsWith(APP.redirectUri);
}

/** Signs `who` in through the app's request, allowing on the consent page if one shows. */
async function signIn(browser: Browser, rp: oidc.Configuration, who: string, params: Record<string, string> = {}) {
  const req = await buildAuthRequest(rp, { scope: 'openid email offline_access', ...params });
  let page = await browser.visit(req.url, APP.redirectUri);
  if (!isAtApp(page) && /Continue with Google/.test(page.body)) page = await chooseUpstream(browser, page, 'google', who, {}, APP.redirectUri);
  const consentPage = isAtApp(page) ? undefined : page;
  if (consentPage) {
    assert.match(consentPage.body, /wants to access your account/, consentPage.body.slice(0, 500));
    page = await browser.submit(consentPage, '/consent', {}, APP.redirectUri);
  }
  assert.ok(isAtApp(page), page.body.slice(0, 500));
  return { tokens: await redeemCode(rp, page.url, req), consentPage };
}

async function signOut(browser: Browser, rp: oidc.Configuration, idToken: string): Promise<void> {
  const confirm = await browser.visit(oidc.buildEndSessionUrl(rp, { id_token_hint: idToken, post_logout_redirect_uri: APP.postLogout }));
  const back = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' }, APP.postLogout);
  assert.ok(back.url.href.startsWith(APP.postLogout));
}

describe('when an app asks for offline_access without prompt=consent', () => {
  let s: Scenario;
  let wiki: oidc.Configuration;
  let intranet: oidc.Configuration;
  before(async () => {
    s = await startScenario({ moreClients: [{ clientId: INTRANET.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri], firstParty: true }] });
    wiki = await discoverDoorman(s.doorman.url);
    intranet = await discoverDoorman(s.doorman.url, INTRANET);
  });
  after(() => s.close());

  it('then a first-party app gets a refresh token without any consent page', async () => {
    const { tokens, consentPage } = await signIn(new Browser(), intranet, ALICE.sub);
    assert.equal(consentPage, undefined);
    assert.ok(tokens.refresh_token, 'refresh token issued');
    assert.match(tokens.scope ?? '', /offline_access/);
    const refreshed = await oidc.refreshTokenGrant(intranet, tokens.refresh_token);
    assert.ok(refreshed.access_token);
  });

  it('then a third-party app gets the consent page naming offline access, then a refresh token', async () => {
    const { tokens, consentPage } = await signIn(new Browser(), wiki, STRING_VERIFIED.sub);
    assert.ok(consentPage, 'consent page shown');
    assert.match(consentPage.body, /Access while you are away/);
    assert.ok(tokens.refresh_token);
    assert.ok((await oidc.refreshTokenGrant(wiki, tokens.refresh_token)).access_token);
  });

  it('then with prompt=none and no consent to offline access yet, the scope is dropped rather than failing', async () => {
    const browser = new Browser();
    const first = await signIn(browser, wiki, OUTSIDER.sub, { scope: 'openid email' });
    assert.equal(first.tokens.refresh_token, undefined);
    const req = await buildAuthRequest(wiki, { scope: 'openid email offline_access', prompt: 'none' });
    const back = await browser.visit(req.url, APP.redirectUri);
    const tokens = await redeemCode(wiki, back.url, req);
    assert.equal(tokens.refresh_token, undefined, 'OIDC Core §11: offline_access ignored when consent cannot be obtained');
  });
});

describe('when a person allowed a third-party app', () => {
  let s: Scenario;
  let wiki: oidc.Configuration;
  before(async () => {
    s = await startScenario();
    wiki = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then after signing out and in again they are not asked again, and still get a refresh token', async () => {
    const browser = new Browser();
    const first = await signIn(browser, wiki, ALICE.sub);
    assert.ok(first.consentPage);
    await signOut(browser, wiki, first.tokens.id_token!);
    const again = await signIn(browser, wiki, ALICE.sub);
    assert.equal(again.consentPage, undefined, 'consent remembered across sign-out');
    assert.ok(again.tokens.refresh_token);
    assert.equal(s.google.tokensIssued >= 2, true, 'the second sign-in really went through Google again');
  });

  it('then when the app asks for more, only the new scope is on the consent page', async () => {
    const browser = new Browser();
    const first = await signIn(browser, wiki, STRING_VERIFIED.sub, { scope: 'openid email' });
    assert.ok(first.consentPage);
    await signOut(browser, wiki, first.tokens.id_token!);
    const more = await signIn(browser, wiki, STRING_VERIFIED.sub, { scope: 'openid email profile' });
    assert.ok(more.consentPage, 'asked again for the new scope');
    assert.match(more.consentPage.body, /Your name, username and picture/);
    assert.doesNotMatch(more.consentPage.body, /Your email address/);
    const rows = await s.db.query<{ scope: string }>('SELECT scope FROM "Consent" c JOIN "Identity" i ON i."accountId" = c."accountId" WHERE i.subject = $1', [STRING_VERIFIED.sub]);
    assert.deepEqual(rows.map((r) => r.scope.split(' ').sort()), [['email', 'openid', 'profile']]);
  });

  it('then revoking it on the Account page ends its refresh token, is audited, and the next sign-in asks again', async () => {
    const browser = new Browser();
    const { tokens } = await signIn(browser, wiki, OUTSIDER.sub);
    const account = await browser.visit(`${s.doorman.url}/account`);
    assert.equal(account.status, 200, account.body.slice(0, 300));
    assert.match(account.body, /Apps you allowed[\s\S]*Team Wiki[\s\S]*Access while you are away/);

    const forged = await browser.request(`${s.doorman.url}/account/apps/${APP.clientId}/revoke`, { method: 'POST', form: { csrf: 'forged' } });
    assert.equal(forged.status, 403, 'CSRF token required');

    const done = await browser.submit(account, `/account/apps/${APP.clientId}/revoke`);
    assert.equal(done.status, 200);
    assert.match(done.body, /no longer has access/);
    assert.doesNotMatch(done.body, /Team Wiki<\/td>/);
    await assert.rejects(oidc.refreshTokenGrant(wiki, tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');
    assert.equal((await oidc.tokenIntrospection(wiki, tokens.access_token)).active, false);
    const audit = await s.db.query<{ type: string; clientId: string }>(`SELECT type, "clientId" FROM "AuditEvent" WHERE type = 'consent.revoked'`);
    assert.deepEqual(audit, [{ type: 'consent.revoked', clientId: APP.clientId }]);

    const again = await signIn(browser, wiki, OUTSIDER.sub);
    assert.ok(again.consentPage, 'asked again after revocation, within the same Doorman session');
  });
});

/**
 * A fresh Doorman for one test, closed when that test ends, so no test sees another's grants or
 * merges; Alice is an admin, and `api` calls the admin API with her admin-scoped token.
 */
async function arrangeAdmin(t: TestContext) {
  const s = await startScenario({ moreClients: [{ clientId: INTRANET.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri], firstParty: true, adminApi: true }] });
  t.after(() => s.close());
  const wiki = await discoverDoorman(s.doorman.url);
  const { tokens } = await signIn(new Browser(), await discoverDoorman(s.doorman.url, INTRANET), ALICE.sub, { scope: 'openid admin' });
  await s.db.query('UPDATE "Account" SET admin = true WHERE id = $1', [tokens.claims()!.sub]);
  const adminToken = tokens.access_token;
  const api = (method: string, path: string, body?: unknown) => fetch(`${s.doorman.url}/admin/api${path}`, {
    method, headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { s, wiki, api };
}

describe('when an admin manages remembered consents', () => {
  it('then revoking one through the API ends the app\'s refresh token and is audited with the admin', async (t) => {
    const { s, wiki, api } = await arrangeAdmin(t);
    const { tokens } = await signIn(new Browser(), wiki, STRING_VERIFIED.sub);
    const bob = tokens.claims()!.sub;
    const res = await api('DELETE', `/accounts/${bob}/consents/${APP.clientId}`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { kind: 'done', revokedGrants: 1 });
    await assert.rejects(oidc.refreshTokenGrant(wiki, tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');
    const [event] = await s.db.query<{ actor: string }>(`SELECT actor FROM "AuditEvent" WHERE type = 'consent.revoked' AND "accountId" = $1`, [bob]);
    assert.match(event!.actor, /^account:/);
    assert.equal((await api('DELETE', `/accounts/${bob}/consents/${APP.clientId}`)).status, 404, 'nothing left to revoke');
  });

  it('then merging two accounts keeps the union of their consents on the survivor', async (t) => {
    const { s, wiki, api } = await arrangeAdmin(t);
    const eve = (await signIn(new Browser(), wiki, OUTSIDER.sub, { scope: 'openid email' })).tokens.claims()!.sub;
    const bob = (await signIn(new Browser(), wiki, STRING_VERIFIED.sub, { scope: 'openid profile' })).tokens.claims()!.sub;
    assert.equal((await api('POST', `/accounts/${bob}/merge`, { from: eve })).status, 200);
    const rows = await s.db.query<{ accountId: string; scope: string }>('SELECT "accountId", scope FROM "Consent" WHERE "accountId" IN ($1, $2)', [bob, eve]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.accountId, bob);
    assert.deepEqual(rows[0]!.scope.split(' ').sort(), ['email', 'openid', 'profile']);
  });
});
