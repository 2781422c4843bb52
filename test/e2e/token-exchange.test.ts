import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { runCli } from '../helpers/processes.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { ALICE, KIM_IDN_ASCII, OUTSIDER, STRING_VERIFIED } from '../fakes/fake-google.ts';
import { ALICE_GH, NEWBIE, OCTOCAT } from '../fakes/fake-upstreams.ts';
import { REFRESH_MARGIN_MS } from '../../src/token-vault/vault.ts';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
/** Upstream tokens live this long in these tests: long enough for one exchange before the refresh margin, short enough to wait out. */
const UPSTREAM_TTL_SECONDS = REFRESH_MARGIN_MS / 1000 + 3;
const REPORTS = { clientId: 'reports', clientSecret: 'reports-secret-0123456789' };
const MAILER = { clientId: 'mailer', clientSecret: 'mailer-secret-0123456789' };
const NARROW = { clientId: 'profile-badge', clientSecret: 'badge-secret-0123456789' };
const GITHUB_SCOPES = ['read:user', 'user:email'];
const ORDERS_API = 'https://orders.example.com';
const GOOGLE_SCOPES = ['openid', 'email', 'profile'];

/** An app's token exchange, by openid-client (software nobody here wrote). */
function exchange(rp: oidc.Configuration, subjectToken: string, params: Record<string, string> = {}) {
  return oidc.genericGrantRequest(rp, GRANT, { subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, requested_token_type: ACCESS_TOKEN, ...params });
}

/** Until a token that had `expiresIn` seconds left (rounded down) is due for a refresh. */
function untilDue(expiresIn: number | undefined): Promise<void> {
  return sleep((expiresIn! + 1) * 1000 - REFRESH_MARGIN_MS + 200);
}

async function refusedWith(promise: Promise<unknown>, error: string, description?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: oidc.ResponseBodyError) => {
    assert.equal(err.error, error, `${err.error}: ${err.error_description}`);
    if (description) assert.match(err.error_description ?? '', description);
    return true;
  });
}

/** What the look-alike GitHub API says about a token: the login it belongs to, or the HTTP status. */
async function githubLogin(s: Scenario, token: string): Promise<string | number> {
  const res = await fetch(`${s.github!.baseUrl}/api/v3/user`, { headers: { authorization: `Bearer ${token}`, 'user-agent': 'an internal app' } });
  return res.ok ? ((await res.json()) as { login: string }).login : res.status;
}

async function googleSubject(s: Scenario, token: string): Promise<string | number> {
  const res = await fetch(`${s.google.issuer}/v1/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  return res.ok ? ((await res.json()) as { sub: string }).sub : res.status;
}

async function storedRows(s: Scenario, accountId: string) {
  return s.db.query<{ provider: string; keyId: string; sealed: string; scope: string }>(
    'SELECT i.provider, t."keyId", t.sealed, t.scope FROM "UpstreamToken" t JOIN "Identity" i ON i.id = t."identityId" WHERE i."accountId" = $1 ORDER BY i.provider', [accountId]);
}

function vaultScenario(extra: { db?: Awaited<ReturnType<typeof createTestDatabase>>; keys?: { id: string; secretEnv: string; retired?: boolean }[]; env?: Record<string, string>; config?: Record<string, unknown> } = {}) {
  return startScenario({
    with: ['github'],
    ...(extra.db ? { db: extra.db } : {}),
    upstreams: { github: { storeTokens: true }, google: { storeTokens: true } },
    client: { firstParty: true, upstreamTokens: [{ upstream: 'github', scopes: GITHUB_SCOPES }, { upstream: 'google', scopes: GOOGLE_SCOPES }] },
    otherClients: [
      { ...REPORTS, redirectUris: ['http://127.0.0.1:4999/callback'], firstParty: true },
      { ...MAILER, redirectUris: ['http://127.0.0.1:4999/callback'], firstParty: true, upstreamTokens: [{ upstream: 'google', scopes: GOOGLE_SCOPES }] },
      { ...NARROW, redirectUris: ['http://127.0.0.1:4999/callback'], firstParty: true, upstreamTokens: [{ upstream: 'github', scopes: ['read:user'] }] },
    ],
    config: {
      tokenVault: { keys: extra.keys ?? [{ id: 'k1', secretEnv: 'VAULT_KEY_1' }] },
      resourceServers: [{ identifier: ORDERS_API, scopes: ['orders:read'], accessTokenFormat: 'opaque' }],
      ...extra.config,
    },
    env: extra.env ?? { VAULT_KEY_1: randomBytes(32).toString('base64') },
  });
}

describe('when an app exchanges its access token for the person\'s upstream token (RFC 8693)', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await vaultScenario();
    s.github!.userTokenTtlSeconds = UPSTREAM_TTL_SECONDS; // a GitHub App: expiring user tokens, rotating refresh tokens
    s.google.accessTokenTtlSeconds = UPSTREAM_TTL_SECONDS;
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then it gets the GitHub token, a refreshed one once it expires, and every exchange is audited', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login);
    const first = await exchange(rp, tokens.access_token, { audience: 'github' });
    assert.equal(first.issued_token_type, ACCESS_TOKEN);
    assert.equal(first.token_type.toLowerCase(), 'bearer');
    assert.equal(first.scope, 'read:user user:email');
    assert.ok(first.expires_in! > 0 && first.expires_in! <= UPSTREAM_TTL_SECONDS);
    assert.equal(await githubLogin(s, first.access_token), OCTOCAT.login);
    const refreshesBefore = s.github!.refreshes;

    await untilDue(first.expires_in);
    const second = await exchange(rp, tokens.access_token, { audience: 'github' });
    assert.notEqual(second.access_token, first.access_token);
    assert.equal(s.github!.refreshes, refreshesBefore + 1);
    assert.equal(await githubLogin(s, second.access_token), OCTOCAT.login);
    const third = await exchange(rp, tokens.access_token, { requested_issuer: 'github' }); // Keycloak's name for the target
    assert.equal(third.access_token, second.access_token, 'a fresh token is handed out as it is');
    assert.equal(s.github!.refreshes, refreshesBefore + 1);

    const accountId = tokens.claims()!.sub;
    const audit = await s.db.query<{ detail: { refreshed: boolean }; clientId: string; provider: string }>(
      'SELECT detail, "clientId", provider FROM "AuditEvent" WHERE "accountId" = $1 AND type = $2 ORDER BY "createdAt"', [accountId, 'token.exchanged']);
    assert.deepEqual(audit.map((e) => [e.clientId, e.provider, e.detail.refreshed]), [['wiki', 'github', false], ['wiki', 'github', true], ['wiki', 'github', false]]);
    const metrics = await (await fetch(`${s.doorman.url}/metrics`)).text();
    assert.match(metrics, /doorman_token_grants_total\{grant_type="urn:ietf:params:oauth:grant-type:token-exchange",outcome="success"\} [3-9]/);
  });

  it('then the stored tokens are not in the database in clear', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login);
    const upstream = await exchange(rp, tokens.access_token, { audience: 'github' });
    const dump = (await s.db.query<{ row: string }>('SELECT t::text AS row FROM "UpstreamToken" t')).map((r) => r.row).join('\n');
    assert.ok(dump.includes('k1'), 'rows name their key');
    assert.ok(!dump.includes(upstream.access_token), 'no access token in clear');
    assert.ok(!/gh[oru]_/.test(dump), 'no GitHub token or refresh token in clear');
  });

  it('then Google\'s token is refreshed with its refresh token, which Google does not rotate', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'google', KIM_IDN_ASCII.sub);
    const first = await exchange(rp, tokens.access_token, { resource: s.google.issuer }); // the upstream named by URI
    assert.equal(await googleSubject(s, first.access_token), KIM_IDN_ASCII.sub);
    await untilDue(first.expires_in);
    const before = s.google.refreshes;
    const second = await exchange(rp, tokens.access_token, { audience: 'google' });
    const third = await untilDue(second.expires_in).then(() => exchange(rp, tokens.access_token, { audience: 'google' }));
    assert.equal(s.google.refreshes, before + 2, 'the same refresh token worked twice');
    assert.equal(await googleSubject(s, third.access_token), KIM_IDN_ASCII.sub);
  });

  for (const upstream of ['github', 'google'] as const) {
    it(`then concurrent exchanges while the ${upstream} token expires refresh it once, and all get the new token`, async () => {
      const who = upstream === 'github' ? OCTOCAT.login : ALICE.sub;
      const { tokens } = await signInThrough(rp, new Browser(), upstream, who);
      const first = await exchange(rp, tokens.access_token, { audience: upstream });
      await untilDue(first.expires_in);
      const fake = upstream === 'github' ? s.github! : s.google;
      const before = fake.refreshes;
      const answers = await Promise.all(Array.from({ length: 6 }, () => exchange(rp, tokens.access_token, { audience: upstream })));
      assert.equal(fake.refreshes, before + 1);
      assert.equal(new Set(answers.map((a) => a.access_token)).size, 1);
      assert.notEqual(answers[0]!.access_token, first.access_token);
      const check = upstream === 'github' ? await githubLogin(s, answers[0]!.access_token) : await googleSubject(s, answers[0]!.access_token);
      assert.equal(check, who);
    });
  }

  for (const [upstream, who] of [['google', OUTSIDER.sub], ['github', NEWBIE.login]] as const) {
    it(`when the person revoked the app at ${upstream}, then the exchange says so, the stale token is not returned and is deleted`, async () => {
      const { tokens } = await signInThrough(rp, new Browser(), upstream, who);
      const first = await exchange(rp, tokens.access_token, { audience: upstream });
      await untilDue(first.expires_in);
      (upstream === 'google' ? s.google : s.github!).revokeAuthorization(who);
      await refusedWith(exchange(rp, tokens.access_token, { audience: upstream }), 'invalid_grant', new RegExp(`must sign in with ${upstream} again`));
      const accountId = tokens.claims()!.sub;
      assert.deepEqual(await storedRows(s, accountId), []);
      const dropped = await s.db.query('SELECT 1 FROM "AuditEvent" WHERE "accountId" = $1 AND type = $2', [accountId, 'upstream-tokens.dropped']);
      assert.equal(dropped.length, 1);
      await refusedWith(exchange(rp, tokens.access_token, { audience: upstream }), 'invalid_grant', new RegExp(`no ${upstream} tokens are stored`));
    });
  }

  it('when the upstream is down at refresh time, then 503 temporarily_unavailable, nothing stale is returned, and the tokens stay', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'google', STRING_VERIFIED.sub);
    const first = await exchange(rp, tokens.access_token, { audience: 'google' });
    await untilDue(first.expires_in);
    s.google.faults['/token'] = { kind: 'answer', status: 503, contentType: 'text/html', body: '<h1>Service Unavailable</h1>' };
    try {
      const res = await fetch(new URL('/token', s.doorman.url), {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('wiki:wiki-secret-0123456789').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: GRANT, subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN, audience: 'google' }),
      });
      assert.equal(res.status, 503);
      const body = await res.json() as { error: string; access_token?: string };
      assert.equal(body.error, 'temporarily_unavailable');
      assert.equal(body.access_token, undefined);
    } finally {
      delete s.google.faults['/token'];
    }
    assert.equal((await storedRows(s, tokens.claims()!.sub)).length, 1);
    const later = await exchange(rp, tokens.access_token, { audience: 'google' });
    assert.notEqual(later.access_token, first.access_token);
  });

  it('when an app without upstreamTokens asks, then unauthorized_client', async () => {
    const reports = await discoverDoorman(s.doorman.url, REPORTS);
    const { tokens } = await signInThrough(reports, new Browser(), 'github', OCTOCAT.login);
    await refusedWith(exchange(reports, tokens.access_token, { audience: 'github' }), 'unauthorized_client');
  });

  it('when an app asks for an upstream it is not allowed, an unknown one, several, or none, then invalid_target', async () => {
    const mailer = await discoverDoorman(s.doorman.url, MAILER);
    const { tokens } = await signInThrough(mailer, new Browser(), 'github', OCTOCAT.login);
    await refusedWith(exchange(mailer, tokens.access_token, { audience: 'github' }), 'invalid_target');
    await refusedWith(exchange(mailer, tokens.access_token, { audience: 'gitlab' }), 'invalid_target');
    await refusedWith(exchange(mailer, tokens.access_token), 'invalid_target');
    await refusedWith(exchange(mailer, tokens.access_token, { resource: 'https://api.example.com' }), 'invalid_target');
    const both = new URLSearchParams({ subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN, audience: 'google' });
    both.append('audience', 'github');
    await refusedWith(oidc.genericGrantRequest(mailer, GRANT, both), 'invalid_target', /one upstream/);
  });

  it('when an app exchanges another app\'s access token, then invalid_grant', async () => {
    const mailer = await discoverDoorman(s.doorman.url, MAILER);
    const { tokens } = await signInThrough(rp, new Browser(), 'google', ALICE.sub);
    await refusedWith(exchange(mailer, tokens.access_token, { audience: 'google' }), 'invalid_grant');
    // Its own token works, so the refusal was about whose token it is.
    const own = await signInThrough(mailer, new Browser(), 'google', ALICE.sub);
    assert.equal(await googleSubject(s, (await exchange(mailer, own.tokens.access_token, { audience: 'google' })).access_token), ALICE.sub);
  });

  it('when the subject token is revoked, garbage, a refresh token, or of the wrong type, then it is refused', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login, {}, { scope: 'openid offline_access orders:read', resource: ORDERS_API, prompt: 'consent' });
    await refusedWith(exchange(rp, tokens.refresh_token!, { audience: 'github' }), 'invalid_grant');
    await refusedWith(exchange(rp, `${tokens.access_token}x`, { audience: 'github' }), 'invalid_grant');
    await refusedWith(exchange(rp, 'A'.repeat(8 * 1024), { audience: 'github' }), 'invalid_grant');
    await refusedWith(exchange(rp, 'A'.repeat(1024 * 1024), { audience: 'github' }), 'invalid_request'); // over the body limit
    await refusedWith(exchange(rp, tokens.access_token, { audience: 'g\u0131thub' }), 'invalid_target'); // dotless i: no case folding to an allowed upstream
    await refusedWith(exchange(rp, tokens.access_token, { audience: 'github', subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }), 'invalid_request');
    await refusedWith(exchange(rp, tokens.access_token, { audience: 'github', requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), 'invalid_request');
    await refusedWith(exchange(rp, tokens.access_token, { audience: 'github', actor_token: tokens.access_token, actor_token_type: ACCESS_TOKEN }), 'invalid_request');
    assert.ok((await exchange(rp, tokens.access_token, { audience: 'github' })).access_token);
    const forApi = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, { resource: ORDERS_API, scope: 'orders:read' });
    await refusedWith(exchange(rp, forApi.access_token, { audience: 'github' }), 'invalid_grant'); // a token for one of your APIs is that API's
    await oidc.tokenRevocation(rp, tokens.access_token);
    await refusedWith(exchange(rp, tokens.access_token, { audience: 'github' }), 'invalid_grant');
  });

  it('when the app asks for scopes outside its allowance or beyond the token, then invalid_scope', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login);
    await refusedWith(exchange(rp, tokens.access_token, { audience: 'github', scope: 'repo' }), 'invalid_scope');
    assert.equal((await exchange(rp, tokens.access_token, { audience: 'github', scope: 'read:user' })).scope, 'read:user user:email', 'the token is handed out whole');
  });

  it('when the stored token can do more than the app may hold, then invalid_scope and no token', async () => {
    const narrow = await discoverDoorman(s.doorman.url, NARROW);
    const { tokens } = await signInThrough(narrow, new Browser(), 'github', OCTOCAT.login);
    await refusedWith(exchange(narrow, tokens.access_token, { audience: 'github' }), 'invalid_scope', /may not hold: user:email/);
  });

  it('when the person unlinks GitHub on the Account page, then its tokens are gone', async () => {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'google', ALICE.sub);
    const accountPage = await browser.visit(new URL('/account', s.doorman.url));
    const authorize = await browser.submit(accountPage, '/account/link/github');
    const linked = await browser.submit(authorize, '/login/oauth/authorize', { login: ALICE_GH.login });
    assert.match(linked.body, /was linked to your account/);
    assert.equal(await githubLogin(s, (await exchange(rp, tokens.access_token, { audience: 'github' })).access_token), ALICE_GH.login);
    const [gh] = await s.db.query<{ id: string }>('SELECT id FROM "Identity" WHERE provider = $1 AND subject = $2', ['github', String(ALICE_GH.id)]);
    const confirm = await browser.submit(linked, `/account/identities/${gh!.id}/unlink`);
    const unlinked = await browser.submit(confirm, `/account/identities/${gh!.id}/unlink`);
    assert.match(unlinked.body, /An app used your access at this provider/, 'the person sees the exchange among recent events');
    await refusedWith(exchange(rp, tokens.access_token, { audience: 'github' }), 'invalid_grant', /no github tokens are stored/);
    assert.deepEqual((await storedRows(s, tokens.claims()!.sub)).map((r) => r.provider), ['google']);
  });

  it('when an admin moves a linked identity to another account, then its tokens are deleted', async () => {
    const browser = new Browser();
    const bob = (await signInThrough(rp, browser, 'google', STRING_VERIFIED.sub)).tokens;
    const linked = await browser.submit(await browser.submit(await browser.visit(new URL('/account', s.doorman.url)), '/account/link/github'), '/login/oauth/authorize', { login: ALICE_GH.login });
    assert.match(linked.body, /was linked to your account/);
    assert.ok((await exchange(rp, bob.access_token, { audience: 'github' })).access_token);
    const kim = (await signInThrough(rp, new Browser(), 'google', KIM_IDN_ASCII.sub)).tokens.claims()!.sub;
    const moved = await runCli(['accounts', 'link', kim, 'github', String(ALICE_GH.id)], { DATABASE_URL: s.db.url });
    assert.equal(moved.code, 0, moved.output);
    assert.deepEqual((await storedRows(s, kim)).map((r) => r.provider), ['google'], 'the moved identity brought no tokens');
    await refusedWith(exchange(rp, bob.access_token, { audience: 'github' }), 'invalid_grant', /no github tokens are stored/);
  });

  it('when an admin disables the account, then its stored tokens are deleted', async () => {
    const { tokens } = await signInThrough(rp, new Browser(), 'github', NEWBIE.login);
    const accountId = tokens.claims()!.sub;
    assert.equal((await storedRows(s, accountId)).length, 1);
    const disabled = await runCli(['accounts', 'disable', accountId], { DATABASE_URL: s.db.url });
    assert.equal(disabled.code, 0, disabled.output);
    assert.deepEqual(await storedRows(s, accountId), []);
    await refusedWith(exchange(rp, tokens.access_token, { audience: 'github' }), 'invalid_grant');
  });

  it('when an admin merges two accounts, then the retired account\'s stored tokens are deleted, the survivor\'s stay', async () => {
    const survivor = (await signInThrough(rp, new Browser(), 'google', OUTSIDER.sub)).tokens;
    const retired = (await signInThrough(rp, new Browser(), 'github', OCTOCAT.login)).tokens;
    const merged = await runCli(['accounts', 'merge', survivor.claims()!.sub, retired.claims()!.sub], { DATABASE_URL: s.db.url });
    assert.equal(merged.code, 0, merged.output);
    assert.deepEqual((await storedRows(s, survivor.claims()!.sub)).map((r) => r.provider), ['google']);
    await refusedWith(exchange(rp, survivor.access_token, { audience: 'github' }), 'invalid_grant', /no github tokens are stored/);
    assert.equal(await googleSubject(s, (await exchange(rp, survivor.access_token, { audience: 'google' })).access_token), OUTSIDER.sub);
  });
});

describe('when the subject token has expired', () => {
  let s: Scenario;
  before(async () => {
    s = await vaultScenario({ config: { ttl: { accessToken: 1 } } });
  });
  after(() => s.close());

  it('then invalid_grant', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const { tokens } = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login);
    await sleep(2100);
    await refusedWith(exchange(rp, tokens.access_token, { audience: 'github' }), 'invalid_grant');
  });

  it('then discovery names the token exchange grant (it is on because an upstream keeps tokens)', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    assert.ok(rp.serverMetadata().grant_types_supported?.includes(GRANT));
  });
});

describe('when no upstream keeps tokens', () => {
  it('then discovery does not offer token exchange, and it is unsupported', async () => {
    const s = await startScenario();
    try {
      const rp = await discoverDoorman(s.doorman.url);
      assert.ok(!rp.serverMetadata().grant_types_supported?.includes(GRANT));
      await refusedWith(exchange(rp, 'x', { audience: 'google' }), 'unsupported_grant_type');
    } finally {
      await s.close();
    }
  });
});

describe('when the token vault key is rotated', () => {
  it('then new rows use the new key, old rows still open with the retired one, are re-encrypted when used, and rekey does the rest', async () => {
    const db = await createTestDatabase();
    const key1 = randomBytes(32).toString('base64');
    const key2 = randomBytes(32).toString('base64');
    try {
      const first = await vaultScenario({ db, keys: [{ id: 'k1', secretEnv: 'K1' }], env: { K1: key1 } });
      let alice: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
      let octo: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
      let aliceUpstream: string;
      try {
        const rp = await discoverDoorman(first.doorman.url);
        alice = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens;
        octo = (await signInThrough(rp, new Browser(), 'github', OCTOCAT.login)).tokens;
        aliceUpstream = (await exchange(rp, alice.access_token, { audience: 'google' })).access_token;
      } finally {
        await first.close();
      }

      const rotated = [{ id: 'k2', secretEnv: 'K2' }, { id: 'k1', secretEnv: 'K1', retired: true }];
      const second = await vaultScenario({ db, keys: rotated, env: { K1: key1, K2: key2 } });
      try {
        const rp = await discoverDoorman(second.doorman.url);
        assert.deepEqual((await storedRows(second, alice.claims()!.sub)).map((r) => r.keyId), ['k1']);
        // Still fresh, so the stored token comes out of a row sealed with the retired key, and is re-sealed.
        assert.equal((await exchange(rp, alice.access_token, { audience: 'google' })).access_token, aliceUpstream);
        assert.deepEqual((await storedRows(second, alice.claims()!.sub)).map((r) => r.keyId), ['k2']);
        assert.deepEqual((await storedRows(second, octo.claims()!.sub)).map((r) => r.keyId), ['k1']);
        const kim = (await signInThrough(rp, new Browser(), 'google', KIM_IDN_ASCII.sub)).tokens;
        assert.deepEqual((await storedRows(second, kim.claims()!.sub)).map((r) => r.keyId), ['k2'], 'new rows use the new key');

        const rekey = await runCli(['token-vault', 'rekey'], {
          DATABASE_URL: db.url, K1: key1, K2: key2,
          DOORMAN_CONFIG: await writeConfig({ upstreams: second.doorman.config.upstreams.map((u) => ({ id: u.id, type: u.type, clientId: u.clientId, clientSecretEnv: 'UNUSED', storeTokens: u.storeTokens, ...('issuer' in u ? { issuer: u.issuer } : {}), ...('baseUrl' in u ? { baseUrl: u.baseUrl } : {}) })), tokenVault: { keys: rotated } }),
        });
        assert.equal(rekey.code, 0, rekey.output);
        assert.match(rekey.output, /re-encrypted 1 stored token set\(s\) with key k2/);
        assert.deepEqual((await storedRows(second, octo.claims()!.sub)).map((r) => r.keyId), ['k2']);
      } finally {
        await second.close();
      }

      // With k1 gone from the config, every row still opens.
      const third = await vaultScenario({ db, keys: [{ id: 'k2', secretEnv: 'K2' }], env: { K2: key2 } });
      try {
        const rp = await discoverDoorman(third.doorman.url);
        assert.ok((await exchange(rp, octo.access_token, { audience: 'github' })).access_token);
      } finally {
        await third.close();
      }

      // A key removed too early: its rows cannot be read, which the app hears as a clear invalid_grant (not a 500).
      const fourth = await vaultScenario({ db, keys: [{ id: 'k3', secretEnv: 'K3' }], env: { K3: randomBytes(32).toString('base64') } });
      try {
        const rp = await discoverDoorman(fourth.doorman.url);
        await refusedWith(exchange(rp, octo.access_token, { audience: 'github' }), 'invalid_grant', /cannot be decrypted/);
      } finally {
        await fourth.close();
      }
    } finally {
      await db.drop();
    }
  });
});

async function writeConfig(config: unknown): Promise<string> {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'doorman-vault-'));
  const file = join(dir, 'doorman.json');
  await writeFile(file, JSON.stringify(config));
  return file;
}
