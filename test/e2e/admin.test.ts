import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { assertErrorPage } from '../helpers/assertions.ts';
import { buildAuthRequest } from '../helpers/rp.ts';
import { ALICE, OUTSIDER, STRING_VERIFIED } from '../fakes/fake-google.ts';
import { OCTOCAT } from '../fakes/fake-upstreams.ts';

/** Runs the real CLI against the scenario's database. */
function cli(s: Scenario, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/doorman.ts', 'accounts', ...args], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { PATH: process.env.PATH, DATABASE_URL: s.db.url, DOORMAN_LOG_LEVEL: 'error' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('error', fail);
    child.once('exit', (code) => ok({ code: code ?? -1, out }));
  });
}

describe('when admins manage accounts through the API and the CLI', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  let api: (path: string, init?: { method?: string; token?: string | undefined; body?: unknown }) => Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  let alice: string;
  let eve: string;
  let adminToken: string;
  const ADMIN_SCOPE = { scope: 'openid email admin offline_access', prompt: 'consent' };

  before(async () => {
    s = await startScenario({ with: ['github'], client: { firstParty: true, adminApi: true } });
    rp = await discoverDoorman(s.doorman.url);
    api = async (path, init = {}) => {
      const res = await fetch(new URL(`/admin/api${path}`, s.doorman.url), {
        method: init.method ?? (init.body ? 'POST' : 'GET'),
        headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) },
        ...(init.body ? { body: JSON.stringify(init.body) } : {}),
      });
      return { status: res.status, body: await res.json() as Record<string, unknown>, headers: res.headers };
    };
    alice = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.claims()!.sub;
    eve = (await signInThrough(rp, new Browser(), 'google', OUTSIDER.sub)).tokens.claims()!.sub;
  });
  after(() => s.close());

  it('then the CLI makes the first admin, and lists and shows accounts', async () => {
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

  it('then a request without a token is refused with 401 and a Bearer challenge', async () => {
    adminToken = (await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, ADMIN_SCOPE)).tokens.access_token;
    const res = await api('/accounts');
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'invalid_token');
    assert.match(res.headers.get('www-authenticate')!, /^Bearer realm="doorman-admin"/);
  });

  it('then a non-admin\'s token, even with the admin scope, is refused with 403', async () => {
    const eveToken = (await signInThrough(rp, new Browser(), 'google', OUTSIDER.sub, {}, ADMIN_SCOPE)).tokens.access_token;
    const res = await api('/accounts', { token: eveToken });
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'forbidden');
  });

  it('then an admin\'s token without the admin scope is refused with 403 insufficient_scope', async () => {
    const plain = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.access_token;
    const res = await api('/accounts', { token: plain });
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'insufficient_scope');
  });

  it('then an expired token is refused with 401', async () => {
    const token = (await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, ADMIN_SCOPE)).tokens.access_token;
    assert.equal((await api('/accounts', { token })).status, 200);
    // Expire it the way time would: both the stored expiry and the token's own exp claim.
    await s.db.query(`UPDATE "OidcModel" SET "expiresAt" = now() - interval '1 second',
      payload = jsonb_set(payload, '{exp}', to_jsonb(extract(epoch from now())::int - 1)) WHERE model = 'AccessToken' AND id = $1`, [token]);
    const res = await api('/accounts', { token });
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'invalid_token');
  });

  it('then an admin searches accounts by email', async () => {
    const res = await api(`/accounts?q=${encodeURIComponent('eve@other.org')}`, { token: adminToken });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store', 'account data must not sit in caches');
    assert.deepEqual((res.body.accounts as { id: string }[]).map((a) => a.id), [eve]);
  });

  it('then a bad request body is refused with a message naming the field', async () => {
    const res = await api(`/accounts/${eve}/identities`, { token: adminToken, body: { provider: 'github' } });
    assert.equal(res.status, 400);
    assert.match(String(res.body.error_description), /subject/);
  });

  it('then an admin pre-links a GitHub identity, which then signs in to that account', async () => {
    const res = await api(`/accounts/${eve}/identities`, { token: adminToken, body: { provider: 'github', subject: String(OCTOCAT.id) } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { tokens } = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login);
    assert.equal(tokens.claims()!.sub, eve);
  });

  it('then unlinking works, but never the last identity', async () => {
    const account = (await api(`/accounts/${eve}`, { token: adminToken })).body as { identities: { id: string; provider: string }[] };
    const google = account.identities.find((i) => i.provider === 'google')!;
    const github = account.identities.find((i) => i.provider === 'github')!;
    assert.equal((await api(`/accounts/${eve}/identities/${google.id}`, { token: adminToken, method: 'DELETE' })).status, 200);
    const last = await api(`/accounts/${eve}/identities/${github.id}`, { token: adminToken, method: 'DELETE' });
    assert.equal(last.status, 409);
    assert.equal(last.body.error, 'last_identity');
  });

  it('then merging keeps the survivor\'s tokens valid and kills the retired account\'s', async () => {
    const survivor = await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, { scope: 'openid offline_access', prompt: 'consent' });
    const retiredLogin = await signInThrough(rp, new Browser(), 'google', STRING_VERIFIED.sub, {}, { scope: 'openid offline_access', prompt: 'consent' });
    const bob = retiredLogin.tokens.claims()!.sub;
    const res = await api(`/accounts/${alice}/merge`, { token: adminToken, body: { from: bob } });
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

  it('then disabling revokes tokens (introspection inactive, refresh fails) and refuses sign-in; enabling lets the person in again', async () => {
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

  it('then every admin action is in the audit log with the acting admin', async () => {
    const rows = await s.db.query<{ type: string; actor: string }>(`SELECT type, actor FROM "AuditEvent" WHERE actor = $1 ORDER BY "createdAt"`, [`account:${alice}`]);
    // account.email: unlinking Eve's Google left GitHub's verified address as the one that can be vouched for.
    assert.deepEqual(rows.map((r) => r.type), ['identity.linked', 'identity.unlinked', 'account.email', 'account.merged', 'account.retired', 'account.disabled', 'account.enabled']);
  });

  it('then an admin whose role is revoked is refused at once', async () => {
    assert.equal((await cli(s, 'revoke-admin', alice)).code, 0);
    assert.equal((await api('/accounts', { token: adminToken })).status, 403);
  });
});
