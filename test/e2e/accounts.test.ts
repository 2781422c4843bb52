import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { assertErrorPage } from '../helpers/assertions.ts';
import { Browser } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE, KIM_IDN_ASCII } from '../fakes/fake-google.ts';
import { ALICE_GH, FB_ALICE, FB_MALLORY, KELVIN, KIM, KIM_IDN_UNICODE, OCTOCAT } from '../fakes/fake-upstreams.ts';

/**
 * Issue #9 items 1 and 6, issue #8 item 4: how emails are compared, who an address
 * belongs to, and which claims an account shows apps.
 */

async function providersOf(s: Scenario, accountId: string): Promise<string[]> {
  return (await s.db.query<{ provider: string; subject: string }>('SELECT provider, subject FROM "Identity" WHERE "accountId" = $1 ORDER BY provider, subject', [accountId]))
    .map((r) => `${r.provider}:${r.subject}`);
}
async function auditOf(s: Scenario, provider: string, subject: string) {
  return s.db.query<{ type: string; accountId: string | null; detail: Record<string, unknown> }>(
    'SELECT type, "accountId", detail FROM "AuditEvent" WHERE provider = $1 AND subject = $2 ORDER BY "createdAt", type', [provider, subject]);
}
/** Runs the real `doorman accounts` CLI against the scenario's database. */
async function cli(s: Scenario, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/doorman.ts', 'accounts', ...args], {
      cwd: new URL('../..', import.meta.url).pathname, env: { PATH: process.env.PATH, DATABASE_URL: s.db.url, DOORMAN_LOG_LEVEL: 'error' },
    });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}
/** The claims an app sees at userinfo, without the token-specific parts. */
function profileClaims(userinfo: oidc.UserInfoResponse) {
  const { sub, email, email_verified, name, picture, preferred_username } = userinfo;
  return { sub, email, email_verified, name, picture, preferred_username };
}

describe('when an attacker\'s verified address differs from Kim\'s only by a KELVIN SIGN (generic OIDC upstream, autoLink on)', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  let kim: string;
  before(async () => {
    s = await startScenario({ with: ['oidc'], client: { firstParty: true, adminApi: true }, upstreams: { oidc: { autoLink: true }, google: { autoLink: true } } });
    rp = await discoverDoorman(s.doorman.url);
    kim = (await signInThrough(rp, new Browser(), 'oidc', KIM.sub)).tokens.claims()!.sub;
  });
  after(() => s.close());

  it('then the attacker gets an account of his own, not Kim\'s, and is offered no link to Kim\'s', async () => {
    const browser = new Browser();
    const { userinfo } = await signInThrough(rp, browser, 'oidc', KELVIN.sub);
    assert.ok(!browser.history.some((u) => u.pathname.endsWith('/link')), 'no link offer was shown');
    assert.notEqual(userinfo.sub, kim);
    assert.equal(userinfo.email, '\u212Aim@example.com', 'the address is shown as sent, never case-mapped into Kim\'s');
    assert.equal(userinfo.email_verified, false, 'Doorman vouches only for addresses in canonical form');
    assert.deepEqual(await providersOf(s, kim), [`oidc:${KIM.sub}`]);
    const audit = await auditOf(s, 'oidc', KELVIN.sub);
    assert.ok(!audit.some((e) => e.type === 'link.offered' || e.type === 'identity.linked'), JSON.stringify(audit));
    assert.ok(audit.some((e) => e.type === 'account.created' && e.accountId === userinfo.sub));
  });

  it('then Kim\'s own claims are untouched', async () => {
    const { userinfo } = await signInThrough(rp, new Browser(), 'oidc', KIM.sub);
    assert.deepEqual([userinfo.sub, userinfo.email, userinfo.email_verified], [kim, 'kim@example.com', true]);
  });

  it('then an admin searching for Kim\'s address finds only Kim, and pasting the look-alike finds only the attacker', async () => {
    const attacker = (await signInThrough(rp, new Browser(), 'oidc', KELVIN.sub)).userinfo.sub;
    await s.db.query('UPDATE "Account" SET admin = true WHERE id = $1', [kim]);
    const admin = await signInThrough(rp, new Browser(), 'oidc', KIM.sub, {}, { scope: 'openid admin' });
    const search = async (q: string) => {
      const res = await fetch(new URL(`/admin/api/accounts?q=${encodeURIComponent(q)}`, s.doorman.url), { headers: { authorization: `Bearer ${admin.tokens.access_token}` } });
      assert.equal(res.status, 200);
      return ((await res.json()) as { accounts: { id: string }[] }).accounts.map((a) => a.id);
    };
    assert.deepEqual(await search('KIM@Example.com'), [kim]);
    assert.deepEqual(await search('kim@example'), [kim]);
    assert.deepEqual(await search('\u212Aim@example.com'), [attacker]);
  });

  it('then one address written as a Unicode domain and as punycode is the same address, and links', async () => {
    const first = (await signInThrough(rp, new Browser(), 'oidc', KIM_IDN_UNICODE.sub)).userinfo;
    assert.deepEqual([first.email, first.email_verified], ['kim@xn--bcher-kva.example', true]);
    const second = (await signInThrough(rp, new Browser(), 'google', KIM_IDN_ASCII.sub)).userinfo;
    assert.equal(second.sub, first.sub);
  });
});

describe('when an attacker signed up first through Facebook with Alice\'s address, and Alice then arrives through Google', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({ with: ['facebook'], client: { firstParty: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then Alice gets an account of her own with her verified address, and the collision is audited for an admin', async () => {
    const squatter = (await signInThrough(rp, new Browser(), 'facebook', FB_MALLORY.id)).userinfo;
    assert.deepEqual([squatter.email, squatter.email_verified], ['alice@example.com', false]);

    const { userinfo } = await signInThrough(rp, new Browser(), 'google', ALICE.sub);
    assert.notEqual(userinfo.sub, squatter.sub);
    assert.deepEqual([userinfo.email, userinfo.email_verified, userinfo.name], ['alice@example.com', true, ALICE.name]);
    assert.deepEqual(await providersOf(s, userinfo.sub), [`google:${ALICE.sub}`]);
    assert.deepEqual(await providersOf(s, squatter.sub), [`facebook:${FB_MALLORY.id}`]);
    const collision = (await auditOf(s, 'google', ALICE.sub)).find((e) => e.type === 'email.collision');
    assert.deepEqual([collision?.accountId, collision?.detail.unverifiedHolders], [userinfo.sub, [squatter.sub]]);
    assert.ok(!(await auditOf(s, 'google', ALICE.sub)).some((e) => e.type === 'link.offered'));
  });
});

describe('when one person signs in through Google, then Facebook, then GitHub, all linked', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({ with: ['github', 'facebook'], client: { firstParty: true }, upstreams: { github: { autoLink: true } } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then every app sees the same email, verified flag, name and picture whichever she used last', async () => {
    const browser = new Browser();
    const viaGoogle = (await signInThrough(rp, browser, 'google', ALICE.sub)).userinfo;
    const account = await browser.visit(new URL('/account', s.doorman.url));
    const dialog = await browser.submit(account, '/account/link/facebook');
    assert.match((await browser.submit(dialog, '/dialog/oauth', { user: FB_ALICE.id })).body, /was linked to your account/);
    const expected = profileClaims(viaGoogle);
    assert.deepEqual(expected, { sub: viaGoogle.sub, email: 'alice@example.com', email_verified: true, name: ALICE.name, picture: ALICE.picture, preferred_username: 'alice' });

    const viaFacebook = (await signInThrough(rp, new Browser(), 'facebook', FB_ALICE.id)).userinfo;
    assert.deepEqual(profileClaims(viaFacebook), expected, 'Facebook\'s unverified copy of the address and its name change nothing');
    const viaGithub = (await signInThrough(rp, new Browser(), 'github', ALICE_GH.login)).userinfo;
    assert.deepEqual(profileClaims(viaGithub), expected, 'GitHub (auto-linked) changes nothing either');
    assert.deepEqual(profileClaims((await signInThrough(rp, new Browser(), 'google', ALICE.sub)).userinfo), expected);
  });
});

describe('when a person chooses the email her apps see', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  // A fresh Doorman per test: each one changes Alice's account.
  beforeEach(async () => {
    s = await startScenario({ with: ['github'], client: { firstParty: true, adminApi: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  afterEach(() => s.close());

  /** Alice signed in with Google and linked the GitHub account OCTOCAT, which verified another address. */
  async function aliceWithTwoAddresses() {
    const browser = new Browser();
    const login = await signInThrough(rp, browser, 'google', ALICE.sub, {}, { scope: 'openid email profile' });
    const page = await browser.visit(new URL('/account', s.doorman.url));
    const authorize = await browser.submit(page, '/account/link/github');
    const linked = await browser.submit(authorize, '/login/oauth/authorize', { login: OCTOCAT.login });
    assert.match(linked.body, /was linked to your account/);
    return { browser, accountPage: linked, login };
  }
  const userinfoOf = (login: { tokens: { access_token: string; claims(): { sub: string } | undefined } }) =>
    oidc.fetchUserInfo(rp, login.tokens.access_token, login.tokens.claims()!.sub);

  it('then the Account page offers her verified addresses, and apps see the one she picks at their next userinfo', async () => {
    const { browser, accountPage, login } = await aliceWithTwoAddresses();
    assert.match(accountPage.body, /<option selected>alice@example.com<\/option>/);
    assert.match(accountPage.body, /<option>octocat@github.example<\/option>/);
    const changed = await browser.submit(accountPage, '/account/email', { email: 'octocat@github.example' });
    assert.match(changed.body, /Your apps now see this email/);
    const userinfo = await userinfoOf(login);
    assert.deepEqual([userinfo.email, userinfo.email_verified, userinfo.name], ['octocat@github.example', true, OCTOCAT.name]);
    const [event] = await s.db.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM "AuditEvent" WHERE type = 'account.email' AND "accountId" = $1 AND detail->>'how' = 'self-service'`, [login.tokens.claims()!.sub]);
    assert.deepEqual(event?.detail, { email: 'octocat@github.example', previous: 'alice@example.com', how: 'self-service' });
    // And it stays put when she signs in with Google again.
    assert.equal((await signInThrough(rp, new Browser(), 'google', ALICE.sub)).userinfo.email, 'octocat@github.example');
  });

  it('then, once no identity vouches for her primary email (it changed upstream), her next verified sign-in supplies it', async () => {
    const { login } = await aliceWithTwoAddresses();
    const alice = login.tokens.claims()!.sub;
    await s.db.query('UPDATE "Account" SET email = $2 WHERE id = $1', [alice, 'gone@example.com']);
    assert.deepEqual([(await userinfoOf(login)).email, (await userinfoOf(login)).email_verified], ['gone@example.com', false]);
    await signInThrough(rp, new Browser(), 'google', ALICE.sub);
    assert.deepEqual([(await userinfoOf(login)).email, (await userinfoOf(login)).email_verified], ['alice@example.com', true]);
    const [event] = await s.db.query<{ detail: Record<string, unknown> }>(`SELECT detail FROM "AuditEvent" WHERE type = 'account.email' AND "accountId" = $1 AND detail->>'previous' = 'gone@example.com'`, [alice]);
    assert.deepEqual(event?.detail, { email: 'alice@example.com', previous: 'gone@example.com', how: 'adopted' });
  });

  it('then an address none of her identities verified is refused, and nothing changes', async () => {
    const { browser, accountPage, login } = await aliceWithTwoAddresses();
    const csrf = /name="csrf" value="([^"]+)"/.exec(accountPage.body)![1]!;
    for (const email of ['old@github.example', 'mallory@example.com', '\u212Aim@example.com', 'ALICE@EXAMPLE.COM\u0000']) {
      assertErrorPage(await browser.request(new URL('/account/email', s.doorman.url), { form: { csrf, email } }), 409, 'email_not_verified');
    }
    assert.equal((await userinfoOf(login)).email, 'alice@example.com');
  });

  it('then the form without a valid CSRF token is refused', async () => {
    const { browser, login } = await aliceWithTwoAddresses();
    assertErrorPage(await browser.request(new URL('/account/email', s.doorman.url), { form: { csrf: 'nope', email: 'octocat@github.example' } }), 403, 'csrf');
    assert.equal((await userinfoOf(login)).email, 'alice@example.com');
  });

  it('then an admin can set it through the API, among the same verified addresses', async () => {
    const { login } = await aliceWithTwoAddresses();
    const alice = login.tokens.claims()!.sub;
    await s.db.query('UPDATE "Account" SET admin = true WHERE id = $1', [alice]);
    const admin = await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, { scope: 'openid email admin' });
    const put = (email: string) => fetch(new URL(`/admin/api/accounts/${alice}/email`, s.doorman.url), {
      method: 'PUT', headers: { authorization: `Bearer ${admin.tokens.access_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ email }),
    });
    const refused = await put('nobody@example.com');
    assert.equal(refused.status, 409);
    assert.equal(((await refused.json()) as { error: string }).error, 'email_not_verified');
    const done = await put('Octocat@GitHub.example');
    assert.equal(done.status, 200);
    assert.deepEqual(await done.json(), { kind: 'done', email: 'octocat@github.example' });
    assert.equal((await userinfoOf(login)).email, 'octocat@github.example');
    const [event] = await s.db.query<{ actor: string }>(`SELECT actor FROM "AuditEvent" WHERE type = 'account.email' AND detail->>'how' = 'admin' AND "accountId" = $1`, [alice]);
    assert.equal(event?.actor, `account:${alice}`);
  });

  it('then `doorman accounts set-email` sets it from the server, among the same verified addresses', async () => {
    const { login } = await aliceWithTwoAddresses();
    const alice = login.tokens.claims()!.sub;
    const refused = await cli(s, 'set-email', alice, 'old@github.example');
    assert.deepEqual([refused.code, refused.out.trim()], [3, 'refused: email_not_verified']);
    const done = await cli(s, 'set-email', alice, 'OCTOCAT@github.example');
    assert.equal(done.code, 0, done.out);
    assert.equal((await userinfoOf(login)).email, 'octocat@github.example');
  });
});
