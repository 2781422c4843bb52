import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import type { Config } from '../../src/config/load.ts';
import { freePort } from '../../src/free-port.ts';
import type { RunningDoorman } from '../../src/server.ts';
import { openClientRegistry } from '../../src/clients/registry.ts';
import { ALICE, OUTSIDER } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { runCli } from '../helpers/processes.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { APP, startScenario, startTestDoorman, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Apps created, changed and deleted at runtime (src/clients), on two Doorman processes
 * sharing one database: what one process's admin API writes, the other applies within
 * seconds, and a real RP (openid-client) signs in with it.
 */

type Api = (path: string, init?: { method?: string; body?: unknown }) => Promise<{ status: number; body: Record<string, unknown> }>;

/** Polls `check` until it holds; fails after `seconds`. Returns how long it took. */
async function within(seconds: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < seconds * 1000) {
    if (await check()) return Date.now() - start;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.fail(`not within ${seconds} s: ${what}`);
}

/** Runs the real CLI (`doorman clients ...`) against the scenario's database, without a config file. */
async function cli(s: Scenario, ...args: string[]): Promise<{ code: number; out: string }> {
  const { code, output } = await runCli(['clients', ...args], { DATABASE_URL: s.db.url });
  return { code, out: output };
}

describe('when admins manage apps at runtime on one of two Doorman processes', () => {
  let s: Scenario;
  let second: RunningDoorman & { config: Config };
  let api: Api;
  let issuerOrigin: string;
  let secondOrigin: string;
  let n = 0;
  /** A fresh client id per test, so each test arranges its own app. */
  const newId = () => `app-${++n}-${Date.now().toString(36)}`;

  before(async () => {
    // Rate limits off: the tests probe refused secrets on purpose (rate-limits.test.ts covers those limits).
    s = await startScenario({ with: ['github'], client: { firstParty: true, adminApi: true }, config: { rateLimits: { enabled: false } } });
    const cfg = s.doorman.config;
    second = await startTestDoorman(s.db.url, {
      issuer: cfg.issuer,
      clients: cfg.clients.map(({ clientSecret: _, ...c }) => c),
      rateLimits: { enabled: false },
      ui: cfg.ui,
      upstreams: cfg.upstreams.map(({ clientSecret: _, ...u }) => u),
    }, Object.fromEntries([['WIKI_SECRET', APP.clientSecret], ...cfg.upstreams.map((u) => [u.clientSecretEnv!, u.clientSecret])]), await freePort());
    issuerOrigin = new URL(s.doorman.url).origin;
    secondOrigin = `http://127.0.0.1:${second.port}`;
    const rp = await discoverDoorman(s.doorman.url);
    const alice = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.claims()!.sub;
    await s.db.query('UPDATE "Account" SET admin = true WHERE id = $1', [alice]);
    const token = (await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, { scope: 'openid email admin', prompt: 'consent' })).tokens.access_token;
    api = async (path, init = {}) => {
      const res = await fetch(new URL(`/admin/api${path}`, s.doorman.url), {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
      return { status: res.status, body: await res.json() as Record<string, unknown> };
    };
  });
  after(async () => {
    await second.close();
    await s.close();
  });

  /** An openid-client RP of `clientId` whose every request lands on the second process. */
  async function rpOnSecond(clientId: string, clientSecret?: string): Promise<oidc.Configuration> {
    const rp = await discoverDoorman(s.doorman.url, { clientId, ...(clientSecret ? { clientSecret } : {}) });
    rp[oidc.customFetch] = (url, options) => fetch(url.replace(issuerOrigin, secondOrigin), options as RequestInit);
    return rp;
  }
  function browserOnSecond(): Browser {
    const browser = new Browser();
    browser.rewrite = (url) => (url.origin === issuerOrigin ? new URL(url.href.replace(issuerOrigin, secondOrigin)) : url);
    return browser;
  }
  /** True when the second process knows the app (its /auth starts a login instead of refusing the client). */
  async function secondKnows(clientId: string): Promise<boolean> {
    const url = new URL('/auth', secondOrigin);
    url.search = new URLSearchParams({ client_id: clientId, redirect_uri: APP.redirectUri, response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    await res.arrayBuffer();
    return res.status === 303;
  }
  /** Client authentication at the second process's revocation endpoint: 200 for a right secret, 401 otherwise. */
  async function basicAuthStatus(clientId: string, secret: string): Promise<number> {
    const res = await fetch(new URL('/token/revocation', secondOrigin), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=unknown-token',
    });
    await res.arrayBuffer();
    return res.status;
  }
  const createApp = async (extra: Record<string, unknown> = {}) => {
    const clientId = newId();
    const res = await api('/clients', { body: { clientId, name: 'Runtime App', redirectUris: [APP.redirectUri], firstParty: true, ...extra } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { clientId, secret: res.body.clientSecret as string | undefined };
  };

  it('then an app created on one process signs in on the other within seconds with client_secret_basic', async () => {
    const { clientId, secret } = await createApp();
    assert.match(secret!, /^[\w-]{43}$/);
    const took = await within(10, 'second process accepts the new app', () => secondKnows(clientId));
    assert.ok(took < 10_000);
    const rp = await rpOnSecond(clientId, secret);
    const { tokens, userinfo } = await signInThrough(rp, browserOnSecond(), 'google', ALICE.sub);
    assert.equal(tokens.claims()!.aud, clientId);
    assert.equal(userinfo.email, 'alice@example.com');
  });

  it('then a rotated secret works everywhere within seconds, the old one and the stored hash do not', async () => {
    const { clientId, secret: old } = await createApp();
    await within(10, 'second process accepts the app', async () => (await basicAuthStatus(clientId, old!)) === 200);
    const rotated = await api(`/clients/${clientId}/secret`, { body: {} });
    assert.equal(rotated.status, 200);
    const fresh = rotated.body.clientSecret as string;
    assert.notEqual(fresh, old);
    await within(10, 'second process refuses the old secret', async () => (await basicAuthStatus(clientId, old!)) === 401);
    assert.equal(await basicAuthStatus(clientId, fresh), 200);
    const [row] = await s.db.query<{ secretHash: string }>('SELECT "secretHash" FROM "OidcClient" WHERE "clientId" = $1', [clientId]);
    assert.equal(await basicAuthStatus(clientId, row!.secretHash), 401, 'the stored hash is not a secret that works');
    // A real RP signs in with the rotated secret (client_secret_basic at the token endpoint).
    const { tokens } = await signInThrough(await rpOnSecond(clientId, fresh), browserOnSecond(), 'google', ALICE.sub);
    assert.equal(tokens.claims()!.aud, clientId);
  });

  it('then a secret is shown once, never again, and is not in the database in clear', async () => {
    const { clientId, secret } = await createApp();
    const rotated = (await api(`/clients/${clientId}/secret`, { body: {} })).body.clientSecret as string;
    const shown = JSON.stringify([(await api(`/clients/${clientId}`)).body, (await api('/clients')).body]);
    for (const value of [secret!, rotated]) assert.ok(!shown.includes(value), 'a secret came back after its creation answer');
    const dump = JSON.stringify(await s.db.query(`SELECT (SELECT json_agg(c) FROM "OidcClient" c) AS clients, (SELECT json_agg(a) FROM "AuditEvent" a) AS audit,
      (SELECT json_agg(m) FROM "OidcModel" m) AS models`));
    assert.ok(dump.includes(clientId), 'the dump holds the app');
    for (const value of [secret!, rotated]) assert.ok(!dump.includes(value), 'a secret is stored in clear');
    const [row] = await s.db.query<{ secretHash: string }>('SELECT "secretHash" FROM "OidcClient" WHERE "clientId" = $1', [clientId]);
    assert.equal(row!.secretHash, `sha256:${createHash('sha256').update(rotated).digest('base64url')}`);
    const audit = await s.db.query<{ type: string; actor: string }>('SELECT type, actor FROM "AuditEvent" WHERE "clientId" = $1 ORDER BY "createdAt"', [clientId]);
    assert.deepEqual(audit.map((a) => a.type), ['client.created', 'client.secret-rotated']);
    assert.ok(audit.every((a) => /^account:[\w-]+$/.test(a.actor)));
  });

  it('then a deleted app stops working on the other process within seconds, tokens included', async () => {
    const { clientId, secret } = await createApp();
    await within(10, 'second process accepts the app', () => secondKnows(clientId));
    const { tokens } = await signInThrough(await rpOnSecond(clientId, secret), browserOnSecond(), 'google', ALICE.sub);
    const deleted = await api(`/clients/${clientId}`, { method: 'DELETE' });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    await within(10, 'second process refuses the deleted app', async () => !(await secondKnows(clientId)));
    assert.equal(await basicAuthStatus(clientId, secret!), 401);
    const me = await fetch(new URL('/me', secondOrigin), { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(me.status, 401);
    assert.equal((await api(`/clients/${clientId}`)).status, 404);
  });

  it('then edits apply to the policies: upstreams, consent and sign-up follow the database settings', async () => {
    const { clientId, secret } = await createApp();
    const changed = await api(`/clients/${clientId}`, { method: 'PATCH', body: { firstParty: false, allowSignup: false, name: 'Renamed App' } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal((changed.body.client as { name: string }).name, 'Renamed App');
    await within(10, 'second process has the edit', async () => {
      const rp = await rpOnSecond(clientId, secret);
      const page = await browserOnSecond().visit((await buildAuthRequest(rp)).url);
      return page.body.includes('Renamed App');
    });
    // Sign-up is off for this app: a person without an account is refused.
    const rp = await rpOnSecond(clientId, secret);
    const browser = browserOnSecond();
    const login = await browser.visit((await buildAuthRequest(rp)).url);
    const upstream = await browser.submit(login, '/upstream/google');
    const refused = await browser.submit(upstream, '/decide', { sub: OUTSIDER.sub }, APP.redirectUri);
    assert.equal(refused.status, 403, refused.body.slice(0, 300));
    // No longer first-party: a person with an account is asked for consent.
    const alice = browserOnSecond();
    const aliceLogin = await alice.visit((await buildAuthRequest(rp)).url);
    const consent = await alice.submit(await alice.submit(aliceLogin, '/upstream/google'), '/decide', { sub: ALICE.sub }, APP.redirectUri);
    assert.equal(consent.status, 200);
    assert.match(consent.body, /action="[^"]*\/consent"/);
    // Only GitHub for this app's users: the login page offers nothing else.
    assert.equal((await api(`/clients/${clientId}`, { method: 'PATCH', body: { upstreams: ['github'] } })).status, 200);
    await within(10, 'second process offers only GitHub', async () => {
      const page = await browserOnSecond().visit((await buildAuthRequest(rp)).url);
      return page.body.includes('/upstream/github') && !page.body.includes('/upstream/google');
    });
  });

  it('then a database app authenticates only with its secret by client_secret_basic: no other method, no hash, no empty secret, no secret for a public app', async () => {
    const { clientId, secret } = await createApp({ grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
    const { clientId: publicId } = await createApp({ public: true });
    await within(10, 'second process accepts the apps', async () => (await basicAuthStatus(clientId, secret!)) === 200 && secondKnows(publicId));
    const [row] = await s.db.query<{ secretHash: string }>('SELECT "secretHash" FROM "OidcClient" WHERE "clientId" = $1', [clientId]);
    /** The token endpoint's answer to a client_credentials request authenticated by `auth`. */
    const tokenStatus = async (auth: { headers?: Record<string, string>; form?: Record<string, string> }) => {
      const res = await fetch(new URL('/token', secondOrigin), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers },
        body: new URLSearchParams({ grant_type: 'client_credentials', ...auth.form }),
      });
      const body = await res.json() as { error?: string };
      return `${res.status} ${body.error ?? 'ok'}`;
    };
    const basic = (id: string, secretValue: string) => ({ headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secretValue)}`).toString('base64')}` } });
    const token = new URL('/token', s.doorman.url).href;
    const assertion = async (key: Uint8Array | CryptoKey, alg: string) => new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg }).setIssuer(clientId).setSubject(clientId).setAudience(token).setIssuedAt().setExpirationTime('1m').sign(key);
    const jwtAuth = (jwt: string) => ({ form: { client_id: clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt } });
    const { privateKey } = await generateKeyPair('RS256');

    assert.equal(await tokenStatus(basic(clientId, secret!)), '200 ok');
    for (const [what, auth] of [
      ['the stored hash', basic(clientId, row!.secretHash)],
      ['an empty secret', basic(clientId, '')],
      ['the secret with a trailing space', basic(clientId, `${secret!} `)],
      ['no secret at all', { form: { client_id: clientId } }],
      ['client_secret_jwt keyed with the secret', jwtAuth(await assertion(new TextEncoder().encode(secret!), 'HS256'))],
      ['client_secret_jwt keyed with the stored hash', jwtAuth(await assertion(new TextEncoder().encode(row!.secretHash), 'HS256'))],
      ['private_key_jwt with a key of its own', jwtAuth(await assertion(privateKey, 'RS256'))],
      ['a public app with a made-up secret', basic(publicId, 'anything')],
      ['a public app by client_secret_post', { form: { client_id: publicId, client_secret: 'anything' } }],
    ] as const) {
      assert.match(await tokenStatus(auth), /^(401 invalid_client|400 invalid_request)$/, what);
    }
  });

  it('then an app created under an id that older tokens and consents still name (a config app removed from the file) inherits none of them', async () => {
    const { clientId } = await createApp({ public: true });
    await within(10, 'second process accepts the app', () => secondKnows(clientId));
    const { tokens } = await signInThrough(await rpOnSecond(clientId), browserOnSecond(), 'google', ALICE.sub, {}, { scope: 'openid offline_access', prompt: 'consent' });
    assert.ok(tokens.refresh_token, 'a refresh token to replay');
    const alice = tokens.claims()!.sub;
    await s.db.query('INSERT INTO "Consent" ("accountId", "clientId", scope) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [alice, clientId, 'openid offline_access']);
    // The app goes away without its tokens being revoked, as a config-file app removed from the file does.
    await s.db.query('DELETE FROM "OidcClient" WHERE "clientId" = $1', [clientId]);
    await within(10, 'second process forgets the app', async () => !(await secondKnows(clientId)));
    const again = await api('/clients', { body: { clientId, name: 'Someone else\'s app', redirectUris: [APP.redirectUri], public: true } });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    await within(10, 'second process accepts the new app', () => secondKnows(clientId));
    const refresh = await fetch(new URL('/token', secondOrigin), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token }),
    });
    const body = await refresh.json() as { error?: string };
    assert.equal(refresh.status, 400, `the old app's refresh token works for the new one: ${JSON.stringify(body)}`);
    assert.equal(body.error, 'invalid_grant');
    assert.deepEqual(await s.db.query('SELECT 1 FROM "Consent" WHERE "clientId" = $1', [clientId]), [], 'the old app\'s consent carries over');
  });

  it('then markup in an app\'s name and URIs is shown as text on the login, consent and console pages', async () => {
    const markup = '<img src=x onerror=alert(1)>"\'';
    const { clientId, secret } = await createApp({ name: markup, firstParty: false, redirectUris: [APP.redirectUri, `https://app.example/cb?x=${encodeURIComponent(markup)}&y="><script>alert(1)</script>`] });
    await within(10, 'second process accepts the app', () => secondKnows(clientId));
    const browser = browserOnSecond();
    const rp = await rpOnSecond(clientId, secret);
    const login = await browser.visit((await buildAuthRequest(rp)).url);
    const consent = await browser.submit(await browser.submit(login, '/upstream/google'), '/decide', { sub: ALICE.sub }, APP.redirectUri);
    assert.match(consent.body, /action="[^"]*\/consent"/);
    const admin = new Browser();
    await chooseUpstream(admin, await admin.visit(new URL('/admin', s.doorman.url)), 'google', ALICE.sub, {}, 'never');
    const pages = [login, consent, await admin.visit(new URL('/admin/clients', s.doorman.url)), await admin.visit(new URL(`/admin/clients/${clientId}`, s.doorman.url)),
      await admin.visit(new URL(`/admin/clients/${clientId}/confirm?action=delete`, s.doorman.url))];
    for (const page of pages) {
      assert.equal(page.status, 200, page.url.pathname);
      assert.doesNotMatch(page.body, /<img src=x|<script>alert/, page.url.pathname);
      assert.match(page.body, /&lt;img src=x onerror=alert\(1\)&gt;/, `${page.url.pathname} shows the name as text`);
    }
  });

  it('then an admin\'s token without the admin scope, or no token, can neither read nor change apps', async () => {
    const { clientId, secret } = await createApp();
    const plain = (await signInThrough(await discoverDoorman(s.doorman.url), new Browser(), 'google', ALICE.sub)).tokens.access_token;
    const before = JSON.stringify(await s.db.query('SELECT * FROM "OidcClient" ORDER BY "clientId"'));
    for (const [method, path, body] of [['GET', '/clients'], ['GET', `/clients/${clientId}`], ['POST', '/clients', { clientId: newId(), name: 'X', redirectUris: ['https://app.example/cb'] }],
      ['PATCH', `/clients/${clientId}`, { name: 'Taken over' }], ['POST', `/clients/${clientId}/secret`], ['DELETE', `/clients/${clientId}`], ['GET', '/upstreams']] as const) {
      for (const [who, authorization, status] of [['no admin scope', `Bearer ${plain}`, 403], ['no token', undefined, 401]] as const) {
        const res = await fetch(new URL(`/admin/api${path}`, s.doorman.url), {
          method, headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}),
        });
        const answer = await res.json() as { error: string; clientSecret?: string };
        assert.equal(res.status, status, `${who}: ${method} ${path}`);
        assert.equal(answer.clientSecret, undefined);
      }
    }
    assert.equal(JSON.stringify(await s.db.query('SELECT * FROM "OidcClient" ORDER BY "clientId"')), before);
    await within(10, 'the app still signs in with its secret', async () => (await basicAuthStatus(clientId, secret!)) === 200);
  });

  it('then a redirect URI removed on one process is refused by the other within seconds (no cached client keeps it)', async () => {
    const old = 'https://old.example/cb';
    const { clientId } = await createApp({ redirectUris: [APP.redirectUri, old] });
    /** The second process's answer to an authorization request sending `redirectUri`: 303 starts a login. */
    const authorize = async (redirectUri: string) => {
      const url = new URL('/auth', secondOrigin);
      url.search = new URLSearchParams({ client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString();
      const res = await fetch(url, { redirect: 'manual' });
      await res.arrayBuffer();
      return res.status;
    };
    await within(10, 'second process takes the old URI', async () => (await authorize(old)) === 303);
    assert.equal((await api(`/clients/${clientId}`, { method: 'PATCH', body: { redirectUris: [APP.redirectUri] } })).status, 200);
    const took = await within(10, 'second process refuses the removed URI', async () => (await authorize(old)) === 400);
    assert.ok(took < 6000, `took ${took} ms`);
    assert.equal(await authorize(APP.redirectUri), 303);
  });

  it('then the audit log says what an app was set to, so a redirect URI slipped in can be traced to its admin', async () => {
    const { clientId } = await createApp();
    const evil = 'https://evil.example/cb';
    assert.equal((await api(`/clients/${clientId}`, { method: 'PATCH', body: { redirectUris: [APP.redirectUri, evil], firstParty: false } })).status, 200);
    const rows = await s.db.query<{ type: string; actor: string; detail: { changed: string[]; set: Record<string, unknown> } }>(
      'SELECT type, actor, detail FROM "AuditEvent" WHERE "clientId" = $1 ORDER BY "createdAt"', [clientId]);
    assert.deepEqual(rows.map((r) => r.type), ['client.created', 'client.updated']);
    assert.deepEqual(rows[0]!.detail.set.redirectUris, [APP.redirectUri]);
    assert.equal(rows[0]!.detail.set.firstParty, true);
    assert.deepEqual([...rows[1]!.detail.changed].sort(), ['firstParty', 'redirectUris']);
    assert.deepEqual(rows[1]!.detail.set, { firstParty: false, redirectUris: [APP.redirectUri, evil] });
    assert.match(rows[1]!.actor, /^account:/);
  });

  it('then a database app whose id a config-file app later takes is named in a warning, since that app would take over its tokens and consents', async () => {
    const { clientId } = await createApp();
    const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
    const log = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (msg: string, fields?: Record<string, unknown>) => warnings.push({ msg, ...(fields ? { fields } : {}) }) };
    const config = { ...s.doorman.config, clients: [...s.doorman.config.clients, { ...s.doorman.config.clients[0]!, clientId }] };
    const registry = await openClientRegistry({ config, db: s.doorman.db, log });
    try {
      assert.equal(registry.get(clientId)?.source, 'config');
      const shadowed = warnings.filter((w) => w.fields?.clientId === clientId);
      assert.equal(shadowed.length, 1, JSON.stringify(warnings));
      assert.match(shadowed[0]!.msg, /config file.*tokens and consents/);
      await registry.refresh();
      assert.equal(warnings.filter((w) => w.fields?.clientId === clientId).length, 1, 'said once, not at every reload');
    } finally {
      registry.close();
    }
  });

  it('then a public app has no secret to rotate and signs in with PKCE alone', async () => {
    const { clientId, secret } = await createApp({ public: true });
    assert.equal(secret, undefined);
    const rotate = await api(`/clients/${clientId}/secret`, { body: {} });
    assert.equal(rotate.status, 409);
    assert.equal(rotate.body.error, 'public_client');
    await within(10, 'second process accepts the app', () => secondKnows(clientId));
    const { tokens } = await signInThrough(await rpOnSecond(clientId), browserOnSecond(), 'google', ALICE.sub);
    assert.equal(tokens.claims()!.aud, clientId);
  });

  it('then bad input is refused with a message naming the problem, and nothing is written', async () => {
    const before = await s.db.query<{ n: string }>('SELECT count(*)::text AS n FROM "OidcClient"');
    const good = { clientId: newId(), name: 'X', redirectUris: ['https://app.example/cb'] };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...good, name: '' }, /name: the name is required/],
      [{ ...good, name: 'A'.repeat(101) }, /at most 100 characters/],
      [{ ...good, name: 'a\u0000b' }, /control characters/],
      [{ ...good, clientId: '' }, /clientId: the client id/],
      [{ ...good, clientId: 'a'.repeat(101) }, /clientId/],
      [{ ...good, clientId: 'has space' }, /clientId/],
      [{ ...good, clientId: APP.clientId }, /config file/],
      [{ ...good, clientId: 'doorman-account' }, /Account page/],
      [{ ...good, redirectUris: [] }, /at least one redirect URI/],
      [{ ...good, redirectUris: ['not a url'] }, /not a URL/],
      [{ ...good, redirectUris: ['http://app.example/cb'] }, /plain http is allowed only for loopback hosts/],
      [{ ...good, redirectUris: ['https://app.example/cb#frag'] }, /must not contain a fragment/],
      [{ ...good, redirectUris: ['javascript:alert(1)'] }, /https/],
      // Reads as app.example, goes to evil.example: no use for credentials in a redirect URI.
      [{ ...good, redirectUris: ['https://app.example@evil.example/cb'] }, /must not contain a user name or password/],
      [{ ...good, postLogoutRedirectUris: ['https://u:p@app.example/bye'] }, /must not contain a user name or password/],
      [{ ...good, redirectUris: ['https://app.example/a\u0000b'] }, /control characters/],
      [{ ...good, postLogoutRedirectUris: ['https://app.example/\ud800'] }, /control characters/],
      [{ ...good, redirectUris: [`https://app.example/${'a'.repeat(2000)}`] }, /at most 2000 characters/],
      [{ ...good, postLogoutRedirectUris: ['http://evil.example/'] }, /loopback/],
      [{ ...good, upstreams: ['nope'] }, /no upstream with the id "nope"/],
      [{ ...good, grantTypes: ['implicit'] }, /grantTypes/],
      [{ ...good, public: true, pkce: 'optional' }, /public client always needs PKCE/],
      [{ ...good, public: true, grantTypes: ['client_credentials'] }, /client_credentials needs a confidential client/],
      [{ ...good, secretHash: 'x' }, /secretHash/],
      // No way to reach oidc-provider's own metadata through the API (clients/provider-clients.ts spreads the stored column).
      [{ ...good, metadata: { redirect_uris: ['https://evil.example/cb'], token_endpoint_auth_method: 'none' } }, /metadata/],
      [{ ...good, token_endpoint_auth_method: 'none' }, /token_endpoint_auth_method/],
      [{ ...good, redirect_uris: ['https://evil.example/cb'] }, /redirect_uris/],
      [{ ...good, adminApi: true }, /adminApi/],
      [JSON.parse(`{"clientId":"${newId()}","name":"X","redirectUris":["https://app.example/cb"],"__proto__":{"public":true}}`) as Record<string, unknown>, /prototype|__proto__/],
    ];
    for (const [body, message] of cases) {
      const res = await api('/clients', { body });
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)} -> ${res.status}`);
      assert.equal(res.body.error, 'invalid_request');
      assert.match(String(res.body.error_description), message);
    }
    assert.deepEqual(await s.db.query('SELECT count(*)::text AS n FROM "OidcClient"'), before);

    const unknown = 'no-such-app';
    for (const [path, init] of [[`/clients/${unknown}`, {}], [`/clients/${unknown}`, { method: 'PATCH', body: { name: 'x' } }], [`/clients/${unknown}/secret`, { body: {} }], [`/clients/${unknown}`, { method: 'DELETE' }]] as const) {
      const res = await api(path, init);
      assert.equal(res.status, 404, `${JSON.stringify(init)} ${path}`);
    }
    for (const init of [{ method: 'PATCH', body: { name: 'x' } }, { method: 'DELETE' }] as const) {
      const res = await api(`/clients/${APP.clientId}`, init);
      assert.equal(res.status, 409);
      assert.equal(res.body.error, 'read_only');
    }
    const { clientId } = await createApp();
    const edit = await api(`/clients/${clientId}`, { method: 'PATCH', body: { name: 'Half', redirectUris: ['http://evil.example/cb'] } });
    assert.equal(edit.status, 400);
    for (const body of [{ metadata: { redirect_uris: ['https://evil.example/cb'] } }, { secretHash: null }, { public: true }, { clientId: 'other' }]) {
      const refused = await api(`/clients/${clientId}`, { method: 'PATCH', body });
      assert.equal(refused.status, 400, JSON.stringify(body));
    }
    assert.equal(((await api(`/clients/${clientId}`)).body as { name: string }).name, 'Runtime App', 'a refused edit changed nothing');
    const twice = await api('/clients', { body: { clientId, name: 'Again', redirectUris: ['https://app.example/cb'] } });
    assert.equal(twice.status, 409);
    assert.equal(twice.body.error, 'client_exists');
    // Two admins creating one id at the same moment: one app, one refusal, one audit row.
    const raced = newId();
    const answers = await Promise.all([1, 2, 3].map((i) => api('/clients', { body: { clientId: raced, name: `Race ${i}`, redirectUris: ['https://app.example/cb'] } })));
    assert.deepEqual(answers.map((r) => r.status).sort(), [201, 409, 409]);
    assert.equal((await s.db.query('SELECT 1 FROM "AuditEvent" WHERE "clientId" = $1', [raced])).length, 1);
  });

  it('then the CLI creates, changes, rotates and deletes an app that running processes apply within seconds', async () => {
    const clientId = newId();
    const created = await cli(s, 'create', clientId, '--name', 'From the CLI', '--redirect-uri', APP.redirectUri, '--first-party', 'yes');
    assert.equal(created.code, 0, created.out);
    const secret = (JSON.parse(created.out) as { clientSecret: string }).clientSecret;
    await within(10, 'second process accepts the CLI\'s secret', async () => (await basicAuthStatus(clientId, secret)) === 200);
    const shown = await cli(s, 'show', clientId);
    assert.equal(shown.code, 0, shown.out);
    assert.ok(!shown.out.includes(secret));
    assert.equal((JSON.parse(shown.out) as { firstParty: boolean }).firstParty, true);

    const bad = await cli(s, 'update', clientId, '--redirect-uri', 'http://evil.example/cb', '--signup', 'maybe');
    assert.equal(bad.code, 3);
    assert.match(bad.out, /plain http is allowed only for loopback hosts/);
    assert.match(bad.out, /allowSignup/);
    const updated = await cli(s, 'update', clientId, '--signup', 'no');
    assert.equal(updated.code, 0, updated.out);
    await within(10, 'the first process has the CLI\'s change', async () => ((await api(`/clients/${clientId}`)).body as { allowSignup: boolean }).allowSignup === false);

    const rotated = await cli(s, 'rotate-secret', clientId);
    assert.equal(rotated.code, 0, rotated.out);
    const fresh = (JSON.parse(rotated.out) as { clientSecret: string }).clientSecret;
    await within(10, 'second process refuses the old secret', async () => (await basicAuthStatus(clientId, secret)) === 401);
    assert.equal(await basicAuthStatus(clientId, fresh), 200);

    assert.equal((await cli(s, 'delete', clientId)).code, 0);
    await within(10, 'second process refuses the deleted app', async () => (await basicAuthStatus(clientId, fresh)) === 401);
    const again = await cli(s, 'delete', clientId);
    assert.equal(again.code, 3);
    assert.match(again.out, /refused: not_found/);
    assert.equal((await cli(s, 'frobnicate')).code, 2);
    const actors = await s.db.query<{ actor: string }>('SELECT DISTINCT actor FROM "AuditEvent" WHERE "clientId" = $1', [clientId]);
    assert.deepEqual(actors.map((a) => a.actor.split(':')[0]), ['cli']);
  });

  it('then the list shows config-file apps read-only beside database ones', async () => {
    const { clientId } = await createApp();
    const list = (await api('/clients')).body.clients as { clientId: string; source: string; readOnly: boolean }[];
    assert.deepEqual(list.find((c) => c.clientId === APP.clientId), { ...list.find((c) => c.clientId === APP.clientId), source: 'config', readOnly: true });
    assert.equal(list.find((c) => c.clientId === clientId)?.source, 'database');
    assert.equal(list.find((c) => c.clientId === clientId)?.readOnly, false);
  });
});
