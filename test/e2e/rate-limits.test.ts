import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { buildConfig, type Config } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { freePort } from '../../src/free-port.ts';
import { createLogger } from '../../src/log.ts';
import { startDoorman, type RunningDoorman } from '../../src/server.ts';
import { GOOGLE_CLIENT, startFakeGoogle } from '../fakes/fake-google.ts';
import type { GoogleLookalike } from '../../src/demo/google-lookalike.ts';
import { assertErrorPage } from '../helpers/assertions.ts';
import { Browser } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { runCli } from '../helpers/processes.ts';
import { APP, startTestDoorman } from '../helpers/start-doorman.ts';

type Doorman = RunningDoorman & { config: Config };

/** Confidential clients, one per test so that per-client counts do not mix. */
const CLIENTS = ['solo', 'shared', 'spread', 'endpoints', 'proxy', 'direct', 'burst', 'redis'] as const;
const secretOf = (clientId: string) => `${clientId}-secret-0123456789`;
const clientsConfig = CLIENTS.map((clientId) => ({
  clientId, clientSecretEnv: `SECRET_${clientId.toUpperCase()}`, redirectUris: [APP.redirectUri], grantTypes: ['client_credentials' as const],
}));
const clientsEnv = Object.fromEntries(CLIENTS.map((id) => [`SECRET_${id.toUpperCase()}`, secretOf(id)]));

/** Small limits so a test reaches them in a few requests; long windows so none passes by itself. */
const SMALL_LIMITS = {
  clientAuthFailuresPerIp: { points: 3, durationSeconds: 600 },
  clientAuthFailuresPerClient: { points: 5, durationSeconds: 600 },
  loginStartsPerIp: { points: 4, durationSeconds: 600 },
  upstreamCallbacksPerIp: { points: 2, durationSeconds: 600 },
  adminRequestsPerToken: { points: 3, durationSeconds: 600 },
};

/** A client_credentials request, as an app behind `forwardedFor` would send it through our proxy. */
async function tokenRequest(doorman: Doorman, clientId: string, secret: string, forwardedFor?: string, path = '/token'): Promise<Response> {
  const body: Record<string, string> = path === '/token' ? { grant_type: 'client_credentials', client_id: clientId, client_secret: secret } : { token: 'not-a-token', client_id: clientId, client_secret: secret };
  return fetch(`http://127.0.0.1:${doorman.port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: new URLSearchParams(body),
  });
}

async function failTimes(n: number, doorman: Doorman, clientId: string, forwardedFor?: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await tokenRequest(doorman, clientId, 'wrong-secret', forwardedFor);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
  }
}

/**
 * A right secret sent to `doorman` until it is refused (or 3 s passed), for a block reached on
 * another process: it learns of it by NOTIFY, a few milliseconds later (README "Rate limits").
 */
async function refusedSoon(doorman: Doorman, clientId: string, forwardedFor: string): Promise<Response> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const res = await tokenRequest(doorman, clientId, secretOf(clientId), forwardedFor);
    if (res.status === 429 || Date.now() > deadline) return res;
    await res.arrayBuffer();
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

async function assertRateLimited(res: Response, maxSeconds = 600): Promise<void> {
  assert.equal(res.status, 429);
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= maxSeconds, `Retry-After ${res.headers.get('retry-after')}`);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(((await res.json()) as { error: string }).error, 'rate_limited');
}

/** A documentation address (RFC 5737) of its own for each test, written by "our proxy". */
let nextHost = 1;
const freshIp = () => `203.0.113.${nextHost++}`;

describe('when apps fail client authentication', () => {
  let db: TestDatabase;
  let first: Doorman;
  let second: Doorman;
  let direct: Doorman;
  before(async () => {
    db = await createTestDatabase();
    const base = { clients: clientsConfig, rateLimits: SMALL_LIMITS } as ConfigInput;
    // Two processes behind one proxy on one database, and a third reached without a proxy.
    first = await startTestDoorman(db.url, { ...base, trustProxy: true }, clientsEnv);
    second = await startTestDoorman(db.url, { ...base, issuer: first.config.issuer, trustProxy: true }, clientsEnv, await freePort());
    direct = await startTestDoorman(db.url, { ...base, trustProxy: false }, clientsEnv);
  });
  after(async () => {
    await Promise.all([first.close(), second.close(), direct.close()]);
    await db.drop();
  });

  it('then after 3 wrong secrets even the right one gets 429 with Retry-After, until the window has passed', async () => {
    const ip = freshIp();
    await failTimes(3, first, 'solo', ip);
    // openid-client, as an app would use it, sees the refusal.
    const app = new oidc.Configuration({ issuer: first.config.issuer, token_endpoint: `${first.config.issuer}/token` }, 'solo', undefined, oidc.ClientSecretPost(secretOf('solo')));
    oidc.allowInsecureRequests(app);
    app[oidc.customFetch] = (url, init) => fetch(url, { ...init, headers: { ...init.headers as Record<string, string>, 'x-forwarded-for': ip } } as RequestInit);
    await assert.rejects(oidc.clientCredentialsGrant(app, {}), (err: oidc.ResponseBodyError) => err.status === 429 && err.error === 'rate_limited');
    await assertRateLimited(await tokenRequest(first, 'solo', secretOf('solo'), ip));

    const [row] = await db.query<{ points: number; expire: string }>('SELECT points, expire FROM "RateLimit" WHERE key = $1', [`clientAuthFailuresPerIp:${ip}`]);
    assert.equal(row!.points, 3);
    assert.ok(Number(row!.expire) > Date.now() && Number(row!.expire) <= Date.now() + 600_000);
    // Let the window pass (the store's clock, not a sleep): the right secret works again.
    await db.query('UPDATE "RateLimit" SET expire = $2 WHERE key = $1', [`clientAuthFailuresPerIp:${ip}`, Date.now() - 1]);
    const res = await tokenRequest(first, 'solo', secretOf('solo'), ip);
    assert.equal(res.status, 200, await res.clone().text());
  });

  it('then a burst of wrong secrets sent at once gets no more answers than the limit', async () => {
    const ip = freshIp();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenRequest(i % 2 ? first : second, 'burst', `wrong-${i}`, ip)));
    const statuses = answers.map((r) => r.status);
    assert.ok(statuses.every((st) => st === 401 || st === 429), String(statuses));
    // At most 3 answered: each was counted (atomically) before it was answered. Fewer, even
    // none, when the per-client count (5), taken in another order under load, refused the
    // ones the per-IP count let by.
    const answered = statuses.filter((st) => st === 401).length;
    assert.ok(answered <= 3, `${answered} answered`);
  });

  it('then two Doorman processes on one database share the count', async () => {
    const ip = freshIp();
    await failTimes(2, first, 'shared', ip);
    await failTimes(1, second, 'shared', ip); // the third: second blocks the address and tells first
    await assertRateLimited(await refusedSoon(first, 'shared', ip));
    await assertRateLimited(await tokenRequest(second, 'shared', secretOf('shared'), ip));
    const other = await tokenRequest(second, 'shared', secretOf('shared'), freshIp());
    assert.equal(other.status, 200, 'another address is not refused');
  });

  it('then failures for one client from many addresses block that client, and only it', async () => {
    for (let i = 0; i < 5; i++) await failTimes(1, i % 2 ? first : second, 'spread', freshIp());
    const ip = freshIp();
    await assertRateLimited(await refusedSoon(first, 'spread', ip)); // the fifth was on second
    const basic = await fetch(`http://127.0.0.1:${first.port}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, authorization: `Basic ${Buffer.from(`spread:${secretOf('spread')}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    await assertRateLimited(basic);
    const otherClient = await tokenRequest(first, 'solo', secretOf('solo'), ip);
    assert.equal(otherClient.status, 200, await otherClient.clone().text());
  });

  it('then failures at introspection, revocation and pushed authorization requests count as well', async () => {
    const ip = freshIp();
    for (const path of ['/token/introspection', '/token/revocation', '/request']) {
      const res = await tokenRequest(first, 'endpoints', 'wrong-secret', ip, path);
      assert.equal(res.status, 401);
    }
    await assertRateLimited(await tokenRequest(first, 'endpoints', secretOf('endpoints'), ip, '/token/revocation'));
    await assertRateLimited(await tokenRequest(first, 'endpoints', secretOf('endpoints'), ip, '/request'));
    await assertRateLimited(await tokenRequest(first, 'endpoints', secretOf('endpoints'), ip));
  });

  it('then behind the proxy, an address the client wrote into X-Forwarded-For is ignored; the one the proxy appended counts', async () => {
    const real = freshIp();
    for (let i = 0; i < 3; i++) await failTimes(1, first, 'proxy', `198.51.100.${i}, ${real}`);
    await assertRateLimited(await tokenRequest(first, 'proxy', secretOf('proxy'), `198.51.100.77, ${real}`));
    const neighbour = await tokenRequest(first, 'proxy', secretOf('proxy'), `${real}, ${freshIp()}`);
    assert.equal(neighbour.status, 200);
  });

  it('then without trustProxy a spoofed X-Forwarded-For changes nothing: the connection\'s address counts', async () => {
    for (let i = 0; i < 3; i++) await failTimes(1, direct, 'direct', freshIp());
    await assertRateLimited(await tokenRequest(direct, 'direct', secretOf('direct'), freshIp()));
    const rows = await db.query('SELECT key FROM "RateLimit" WHERE key = $1', ['clientAuthFailuresPerIp:127.0.0.1']);
    assert.equal(rows.length, 1);
  });

  it('then a right secret within the limit costs no write', async () => {
    const before = await db.query<{ n: string }>('SELECT count(*) AS n FROM "RateLimit"');
    for (let i = 0; i < 5; i++) assert.equal((await tokenRequest(first, 'solo', secretOf('solo'), freshIp())).status, 200);
    const after = await db.query<{ n: string }>('SELECT count(*) AS n FROM "RateLimit"');
    assert.equal(after[0]!.n, before[0]!.n);
  });
});

describe('when an app made at runtime (its secret stored as a hash) authenticates many times', () => {
  let db: TestDatabase;
  let doorman: Doorman;
  before(async () => {
    db = await createTestDatabase();
    doorman = await startTestDoorman(db.url, { rateLimits: SMALL_LIMITS } as ConfigInput);
  });
  after(async () => {
    await doorman.close();
    await db.drop();
  });

  it('then its right secret is never counted as a failure: many requests pass, and a wrong one still counts', async () => {
    const created = await runCli(['clients', 'create', 'runtime-app', '--name', 'Runtime App', '--redirect-uri', APP.redirectUri, '--grant-type', 'client_credentials'], { DATABASE_URL: db.url });
    assert.equal(created.code, 0, created.output);
    const secret = (JSON.parse(created.output) as { clientSecret: string }).clientSecret;
    // A process started now knows the app at once (the registry loads at start).
    const fresh = await startTestDoorman(db.url, { rateLimits: SMALL_LIMITS } as ConfigInput);
    try {
      // Runtime apps authenticate with client_secret_basic.
      const basic = (password: string) => fetch(`http://127.0.0.1:${fresh.port}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`runtime-app:${encodeURIComponent(password)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      // Well over the per-IP failure limit (3) and the per-client one (5), all with the right secret.
      for (let i = 0; i < 12; i++) {
        const res = await basic(secret);
        assert.equal(res.status, 200, `request ${i + 1}: ${await res.text()}`);
      }
      // A wrong secret still counts: three of them, and the right one is refused too.
      for (let i = 0; i < 3; i++) assert.equal((await basic('wrong-secret')).status, 401);
      await assertRateLimited(await basic(secret));
    } finally {
      await fresh.close();
    }
  });
});

describe('when a person starts many sign-ins', () => {
  let db: TestDatabase;
  let google: GoogleLookalike;
  let doorman: Doorman;
  let rp: oidc.Configuration;
  before(async () => {
    db = await createTestDatabase();
    const port = await freePort();
    google = await startFakeGoogle([`http://127.0.0.1:${port}/upstream/google/callback`]);
    doorman = await startTestDoorman(db.url, {
      clients: [{ clientId: APP.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri] }],
      upstreams: [{ id: 'google', type: 'google', clientId: GOOGLE_CLIENT.clientId, clientSecretEnv: 'GOOGLE_SECRET', issuer: google.issuer }],
      rateLimits: SMALL_LIMITS,
      // This test looks at the login page, which one upstream would skip (login-choice.test.ts counts the skip).
      ui: { skipLoginPage: false },
    } as ConfigInput, { WIKI_SECRET: APP.clientSecret, GOOGLE_SECRET: GOOGLE_CLIENT.clientSecret }, port);
    rp = await discoverDoorman(doorman.url);
  });
  after(async () => {
    await doorman.close();
    await google.close();
    await db.drop();
  });

  it('then past the limit the browser gets a page with 429 and Retry-After, and looking at the login page does not count', async () => {
    await db.query('DELETE FROM "RateLimit"');
    const browser = new Browser();
    const login = await browser.visit((await buildAuthRequest(rp)).url); // start 1
    assert.equal(login.status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await browser.request(login.url)).status, 200);
    const upstream = await browser.submit(login, '/upstream/google'); // start 2
    assert.equal(upstream.status, 200);
    assert.equal((await browser.visit((await buildAuthRequest(rp)).url)).status, 200); // start 3
    assert.equal((await browser.visit((await buildAuthRequest(rp)).url)).status, 200); // start 4
    const refused = await browser.visit((await buildAuthRequest(rp)).url);
    assertErrorPage(refused, 429, 'rate_limited');
    assert.match(refused.body, /Too many sign-in attempts/);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.match(refused.headers.get('content-security-policy') ?? '', /default-src/);
    const choice = await browser.request(new URL(`/interaction/x/upstream/google`, doorman.url), { form: { csrf: 'x' } });
    assertErrorPage(choice, 429, 'rate_limited');
  });

  it('then upstream callbacks past the limit get a page with 429, and a flood after that writes nothing', async () => {
    await db.query('DELETE FROM "RateLimit"');
    const browser = new Browser();
    const callback = new URL('/upstream/google/callback?state=forged&code=x', doorman.url);
    for (let i = 0; i < 2; i++) assert.equal((await browser.request(callback)).status, 400);
    for (let i = 0; i < 5; i++) assertErrorPage(await browser.request(callback), 429, 'rate_limited');
    const rows = await db.query<{ points: number }>('SELECT points FROM "RateLimit" WHERE key = $1', ['upstreamCallbacksPerIp:127.0.0.1']);
    assert.deepEqual(rows.map((r) => r.points), [3], 'only the first refusal was counted in the store');
  });

  it('then discovery, JWKS and the login page touch no counter', async () => {
    await db.query('DELETE FROM "RateLimit"');
    for (let i = 0; i < 10; i++) {
      assert.equal((await fetch(new URL('/.well-known/openid-configuration', doorman.url))).status, 200);
      assert.equal((await fetch(new URL('/jwks', doorman.url))).status, 200);
    }
    const rows = await db.query('SELECT key FROM "RateLimit"');
    assert.deepEqual(rows, []);
  });

  it('then the admin API answers 429 JSON per token, before looking the token up', async () => {
    const token = randomBytes(32).toString('base64url');
    const call = (t: string) => fetch(new URL('/admin/api/accounts', doorman.url), { headers: { authorization: `Bearer ${t}` } });
    for (let i = 0; i < 3; i++) assert.equal((await call(token)).status, 401);
    await assertRateLimited(await call(token));
    assert.equal((await call(randomBytes(32).toString('base64url'))).status, 401, 'another token is not refused');
    const rows = await db.query<{ key: string }>('SELECT key FROM "RateLimit" WHERE key LIKE $1', ['adminRequestsPerToken:%']);
    assert.notDeepEqual(rows, [], 'the per-token count is stored (else "hashed" below checks nothing)');
    assert.ok(rows.every((r) => !r.key.includes(token)), 'tokens are stored hashed');
  });
});

/** The tests' Redis, as the README says: TEST_REDIS_URL, else the local service. */
const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('when the counters are in Redis', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.drop());

  const start = async (redisUrl: string, log = createLogger('silent'), issuer?: string) => {
    const port = await freePort();
    const config = buildConfig({ issuer: issuer ?? `http://127.0.0.1:${port}`, port, trustProxy: true, clients: clientsConfig, rateLimits: { ...SMALL_LIMITS, redisUrl } }, { DATABASE_URL: db.url, ...clientsEnv });
    return { ...await startDoorman(config, log, '127.0.0.1'), config };
  };

  it('then two processes share the count there', async () => {
    const a = await start(TEST_REDIS_URL);
    const b = await start(TEST_REDIS_URL, undefined, a.config.issuer);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      await redis.del('clientAuthFailuresPerClient:redis'); // left by an earlier run
      // A random /64 of the documentation prefix: other runs on the same Redis do not collide.
      const ip = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::1`;
      await failTimes(2, a, 'redis', ip);
      await failTimes(1, b, 'redis', ip.replace(/::1$/, '::2')); // the same /64
      await assertRateLimited(await tokenRequest(a, 'redis', secretOf('redis'), ip));
      assert.deepEqual(await db.query('SELECT key FROM "RateLimit"'), [], 'nothing counted in the database');
    } finally {
      redis.disconnect();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('then with the store unreachable requests are allowed (fail open) and the failure is logged', async () => {
    const lines: string[] = [];
    const doorman = await start(`redis://127.0.0.1:${await freePort()}`, createLogger('warn', (l) => lines.push(l)));
    try {
      for (let i = 0; i < 5; i++) assert.equal((await tokenRequest(doorman, 'redis', 'wrong-secret', freshIp())).status, 401);
      assert.equal((await tokenRequest(doorman, 'redis', secretOf('redis'))).status, 200);
      assert.ok(lines.some((l) => /rate limit \w+ not (checked|counted) \(store failed\)/.test(l)), lines.join('\n'));
      assert.ok(lines.every((l) => !l.includes(secretOf('redis'))));
    } finally {
      await doorman.close();
    }
  });
});
