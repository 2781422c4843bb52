import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { runCli } from '../helpers/processes.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { assertErrorPage } from '../helpers/assertions.ts';
import { buildAuthRequest } from '../helpers/rp.ts';
import { ALICE, OUTSIDER, STRING_VERIFIED } from '../fakes/fake-google.ts';
import { OCTOCAT } from '../fakes/fake-upstreams.ts';

/** Runs the real CLI against the scenario's database. */
async function cli(s: Scenario, ...args: string[]): Promise<{ code: number; out: string }> {
  const { code, output } = await runCli(['accounts', ...args], { DATABASE_URL: s.db.url });
  return { code, out: output };
}

type Api = (path: string, init?: { method?: string; token?: string | undefined; body?: unknown }) => Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;

const ADMIN_SCOPE = { scope: 'openid email admin offline_access', prompt: 'consent' };

/** What each test starts from: its own Doorman and database, Alice and Eve signed in once (neither is an admin). */
interface World { s: Scenario; rp: oidc.Configuration; api: Api; alice: string; eve: string }

/** A fresh Doorman for one test, closed when that test ends, so no test sees another's accounts or grants. */
async function arrange(t: TestContext): Promise<World> {
  const s = await startScenario({ with: ['github'], client: { firstParty: true, adminApi: true } });
  t.after(() => s.close());
  const rp = await discoverDoorman(s.doorman.url);
  const api: Api = async (path, init = {}) => {
    const res = await fetch(new URL(`/admin/api${path}`, s.doorman.url), {
      method: init.method ?? (init.body ? 'POST' : 'GET'),
      headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
    return { status: res.status, body: await res.json() as Record<string, unknown>, headers: res.headers };
  };
  const alice = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.claims()!.sub;
  const eve = (await signInThrough(rp, new Browser(), 'google', OUTSIDER.sub)).tokens.claims()!.sub;
  return { s, rp, api, alice, eve };
}

/** Alice made admin with the CLI, and her admin-scoped access token. */
async function asAdmin({ s, rp, alice }: World): Promise<string> {
  const granted = await cli(s, 'grant-admin', alice);
  assert.equal(granted.code, 0, granted.out);
  return (await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, ADMIN_SCOPE)).tokens.access_token;
}

/** The admin links OCTOCAT's GitHub identity to Eve's account. */
async function preLinkGithubToEve({ api, eve }: World, adminToken: string) {
  return api(`/accounts/${eve}/identities`, { token: adminToken, body: { provider: 'github', subject: String(OCTOCAT.id) } });
}

/** The admin unlinks Eve's Google identity (allowed), then tries her last one, GitHub (refused). */
async function unlinkEvesIdentities({ api, eve }: World, adminToken: string) {
  const account = (await api(`/accounts/${eve}`, { token: adminToken })).body as { identities: { id: string; provider: string }[] };
  const google = account.identities.find((i) => i.provider === 'google')!;
  const github = account.identities.find((i) => i.provider === 'github')!;
  const first = await api(`/accounts/${eve}/identities/${google.id}`, { token: adminToken, method: 'DELETE' });
  const last = await api(`/accounts/${eve}/identities/${github.id}`, { token: adminToken, method: 'DELETE' });
  return { first, last };
}

/** Bob signs in (with a refresh token), then the admin merges Bob's account into Alice's. */
async function mergeBobIntoAlice({ rp, api, alice }: World, adminToken: string) {
  const retiredLogin = await signInThrough(rp, new Browser(), 'google', STRING_VERIFIED.sub, {}, { scope: 'openid offline_access', prompt: 'consent' });
  const bob = retiredLogin.tokens.claims()!.sub;
  const res = await api(`/accounts/${alice}/merge`, { token: adminToken, body: { from: bob } });
  return { retiredLogin, bob, res };
}

describe('when admins manage accounts through the API and the CLI', () => {
  it('then the CLI makes the first admin, and lists and shows accounts', async (t) => {
    const { s, alice } = await arrange(t);
    const granted = await cli(s, 'grant-admin', alice);
    assert.equal(granted.code, 0, granted.out);
    const listed = await cli(s, 'list', 'alice@example.com');
    assert.equal(listed.code, 0, listed.out);
    assert.deepEqual((JSON.parse(listed.out) as { id: string; admin: boolean }[]).map((a) => [a.id, a.admin]), [[alice, true]]);
    const shown = JSON.parse((await cli(s, 'show', alice)).out) as { events: { type: string; actor: string | null }[] };
    assert.ok(shown.events.some((e) => e.type === 'admin.granted' && e.actor?.startsWith('cli:')));
    const bad = await cli(s, 'frobnicate');
    assert.equal(bad.code, 2);
    assert.match(bad.out, /usage: doorman accounts/);
  });

  it('then a request without a token is refused with 401 and a Bearer challenge', async (t) => {
    const w = await arrange(t);
    const res = await w.api('/accounts');
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'invalid_token');
    assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="doorman-admin"/);
  });

  it('then a non-admin\'s token, even with the admin scope, is refused with 403', async (t) => {
    const w = await arrange(t);
    await asAdmin(w);
    const eveToken = (await signInThrough(w.rp, new Browser(), 'google', OUTSIDER.sub, {}, ADMIN_SCOPE)).tokens.access_token;
    const res = await w.api('/accounts', { token: eveToken });
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'forbidden');
  });

  it('then an admin\'s token without the admin scope is refused with 403 insufficient_scope', async (t) => {
    const w = await arrange(t);
    await asAdmin(w);
    const plain = (await signInThrough(w.rp, new Browser(), 'google', ALICE.sub)).tokens.access_token;
    const res = await w.api('/accounts', { token: plain });
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'insufficient_scope');
  });

  it('then an expired token is refused with 401', async (t) => {
    const w = await arrange(t);
    const token = await asAdmin(w);
    assert.equal((await w.api('/accounts', { token })).status, 200);
    // Expire it the way time would: both the stored expiry and the token's own exp claim.
    await w.s.db.query(`UPDATE "OidcModel" SET "expiresAt" = now() - interval '1 second',
      payload = jsonb_set(payload, '{exp}', to_jsonb(extract(epoch from now())::int - 1)) WHERE model = 'AccessToken' AND id = $1`, [token]);
    const res = await w.api('/accounts', { token });
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'invalid_token');
  });

  it('then an admin searches accounts by email', async (t) => {
    const w = await arrange(t);
    const adminToken = await asAdmin(w);
    const res = await w.api(`/accounts?q=${encodeURIComponent('eve@other.org')}`, { token: adminToken });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store', 'account data must not sit in caches');
    assert.deepEqual((res.body.accounts as { id: string }[]).map((a) => a.id), [w.eve]);
  });

  it('then a bad request body is refused with a message naming the field', async (t) => {
    const w = await arrange(t);
    const adminToken = await asAdmin(w);
    const res = await w.api(`/accounts/${w.eve}/identities`, { token: adminToken, body: { provider: 'github' } });
    assert.equal(res.status, 400);
    assert.match(String(res.body.error_description), /subject/);
  });

  it('then an admin pre-links a GitHub identity, which then signs in to that account', async (t) => {
    const w = await arrange(t);
    const res = await preLinkGithubToEve(w, await asAdmin(w));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { tokens } = await signInThrough(w.rp, new Browser(), 'github', OCTOCAT.login);
    assert.equal(tokens.claims()!.sub, w.eve);
  });

  it('then unlinking works, but never the last identity', async (t) => {
    const w = await arrange(t);
    const adminToken = await asAdmin(w);
    assert.equal((await preLinkGithubToEve(w, adminToken)).status, 201);
    const { first, last } = await unlinkEvesIdentities(w, adminToken);
    assert.equal(first.status, 200);
    assert.equal(last.status, 409);
    assert.equal(last.body.error, 'last_identity');
  });

  it('then merging keeps the survivor\'s tokens valid and kills the retired account\'s', async (t) => {
    const w = await arrange(t);
    const { rp, api, alice } = w;
    const adminToken = await asAdmin(w);
    const survivor = await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, { scope: 'openid offline_access', prompt: 'consent' });
    const { retiredLogin, bob, res } = await mergeBobIntoAlice(w, adminToken);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.movedIdentities, 1);

    assert.equal((await oidc.tokenIntrospection(rp, survivor.tokens.access_token)).active, true);
    assert.ok((await oidc.refreshTokenGrant(rp, survivor.tokens.refresh_token!)).access_token);
    assert.equal((await oidc.tokenIntrospection(rp, retiredLogin.tokens.access_token)).active, false);
    await assert.rejects(oidc.refreshTokenGrant(rp, retiredLogin.tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');

    const again = await signInThrough(rp, new Browser(), 'google', STRING_VERIFIED.sub);
    assert.equal(again.tokens.claims()!.sub, alice, 'Bob\'s Google identity now reaches the survivor');
    const retired = (await api(`/accounts/${bob}`, { token: adminToken })).body;
    assert.deepEqual([retired.retired, retired.mergedIntoId, (retired.identities as unknown[]).length], [true, alice, 0]);
  });

  it('then disabling revokes tokens (introspection inactive, refresh fails) and refuses sign-in; enabling lets the person in again', async (t) => {
    const w = await arrange(t);
    const { rp, api, eve } = w;
    const adminToken = await asAdmin(w);
    // Eve signs in with GitHub too, as after an admin pre-linked it, so both ways in must be refused.
    assert.equal((await preLinkGithubToEve(w, adminToken)).status, 201);
    const eveLogin = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login, {}, { scope: 'openid offline_access', prompt: 'consent' });
    const res = await api(`/accounts/${eve}/disable`, { token: adminToken, method: 'POST' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok((res.body.revoked as number) > 0);
    assert.equal((await oidc.tokenIntrospection(rp, eveLogin.tokens.access_token)).active, false);
    await assert.rejects(oidc.refreshTokenGrant(rp, eveLogin.tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');
    const browser = new Browser();
    assertErrorPage(await chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), 'github', OCTOCAT.login), 403, 'account_disabled');

    assert.equal((await api(`/accounts/${eve}/enable`, { token: adminToken, method: 'POST' })).status, 200);
    assert.equal((await signInThrough(rp, new Browser(), 'github', OCTOCAT.login)).tokens.claims()!.sub, eve);
  });

  it('then every admin action is in the audit log with the acting admin', async (t) => {
    const w = await arrange(t);
    const { s, api, alice, eve } = w;
    const adminToken = await asAdmin(w);
    assert.equal((await preLinkGithubToEve(w, adminToken)).status, 201);
    // Eve signs in with GitHub once, so her account learns GitHub's verified address.
    assert.equal((await signInThrough(w.rp, new Browser(), 'github', OCTOCAT.login)).tokens.claims()!.sub, eve);
    assert.equal((await unlinkEvesIdentities(w, adminToken)).first.status, 200);
    assert.equal((await mergeBobIntoAlice(w, adminToken)).res.status, 200);
    assert.equal((await api(`/accounts/${eve}/disable`, { token: adminToken, method: 'POST' })).status, 200);
    assert.equal((await api(`/accounts/${eve}/enable`, { token: adminToken, method: 'POST' })).status, 200);
    const rows = await s.db.query<{ type: string; actor: string }>(`SELECT type, actor FROM "AuditEvent" WHERE actor = $1 ORDER BY "createdAt"`, [`account:${alice}`]);
    // account.email: unlinking Eve's Google left GitHub's verified address as the one that can be vouched for.
    assert.deepEqual(rows.map((r) => r.type), ['identity.linked', 'identity.unlinked', 'account.email', 'account.merged', 'account.retired', 'account.disabled', 'account.enabled']);
  });

  it('then an admin whose role is revoked is refused at once', async (t) => {
    const w = await arrange(t);
    const adminToken = await asAdmin(w);
    assert.equal((await w.api('/accounts', { token: adminToken })).status, 200);
    assert.equal((await cli(w.s, 'revoke-admin', w.alice)).code, 0);
    assert.equal((await w.api('/accounts', { token: adminToken })).status, 403);
  });
});
