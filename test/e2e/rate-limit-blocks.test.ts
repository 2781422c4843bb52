import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Config } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { freePort } from '../../src/free-port.ts';
import type { RunningDoorman } from '../../src/server.ts';
import { BLOCKED_CHANNEL, MAX_ENTRIES } from '../../src/rate-limits/blocked-keys.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestDoorman } from '../helpers/start-doorman.ts';

type Doorman = RunningDoorman & { config: Config };

/**
 * Issue #11: a right client secret is checked against the blocked keys each process keeps
 * in memory (rate-limits/blocked-keys.ts), not against the RateLimit table. Two Doorman
 * instances (own pools, own LISTEN connections) on one database, behind "our proxy" so
 * each test has addresses of its own; the second connects as a role of its own, so that
 * its LISTEN connection, and only it, can be found and cut.
 */
const CLIENTS = ['across', 'late', 'cut', 'quiet', 'forged', 'unicode'] as const;
const secretOf = (clientId: string) => `${clientId}-secret-0123456789`;
const LIMITS = { clientAuthFailuresPerIp: { points: 3, durationSeconds: 600 }, clientAuthFailuresPerClient: { points: 50, durationSeconds: 600 } };
/** How long a notification or a reconnect may take; generous for a busy machine. */
const EVENTUALLY_MS = 5000;

let nextHost = 1;
const freshIp = () => `198.51.100.${nextHost++}`;

/** Statements that touch the RateLimit table, sent by any pg client in this process. */
let rateLimitStatements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
  if (text?.includes('"RateLimit"')) rateLimitStatements++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

async function token(doorman: Doorman, clientId: string, secret: string, ip: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${doorman.port}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
  });
}

/** Status of a right secret sent to `doorman`, and how many RateLimit statements answering it took. */
async function rightSecret(doorman: Doorman, clientId: string, ip: string): Promise<{ status: number; statements: number }> {
  const before = rateLimitStatements;
  const res = await token(doorman, clientId, secretOf(clientId), ip);
  await res.arrayBuffer();
  return { status: res.status, statements: rateLimitStatements - before };
}

async function block(doorman: Doorman, clientId: string, ip: string): Promise<void> {
  for (let i = 0; i < 3; i++) assert.equal((await token(doorman, clientId, `wrong-${i}`, ip)).status, 401);
}

async function eventually<T>(what: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + EVENTUALLY_MS;
  for (;;) {
    const value = await what();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

describe('when a client is blocked by failed authentications on one of several processes', () => {
  let db: TestDatabase;
  let role: string;
  let a: Doorman;
  let b: Doorman;
  let config: ConfigInput;
  const env = Object.fromEntries(CLIENTS.map((id) => [`SECRET_${id.toUpperCase()}`, secretOf(id)]));
  const urlAs = (user: string) => {
    const url = new URL(db.url);
    url.username = user;
    return url.toString();
  };

  before(async () => {
    db = await createTestDatabase();
    role = `${db.schema}_b`;
    await db.query(`CREATE ROLE "${role}" LOGIN SUPERUSER`);
    config = {
      trustProxy: true, rateLimits: LIMITS,
      clients: CLIENTS.map((clientId) => ({ clientId, clientSecretEnv: `SECRET_${clientId.toUpperCase()}`, redirectUris: ['http://127.0.0.1:4999/cb'], grantTypes: ['client_credentials'] })),
    } as ConfigInput;
    a = await startTestDoorman(db.url, config, env);
    b = await startTestDoorman(urlAs(role), { ...config, issuer: a.config.issuer }, env, await freePort());
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
    await db.query(`DROP ROLE "${role}"`);
    await db.drop();
  });

  it('then a right secret for a client nobody blocked costs no rate-limit statement', async () => {
    const ip = freshIp();
    assert.deepEqual(await rightSecret(a, 'quiet', ip), { status: 200, statements: 0 });
    assert.deepEqual(await rightSecret(b, 'quiet', ip), { status: 200, statements: 0 });
  });

  it('then the other process refuses the right secret too, without asking the table first', async () => {
    const ip = freshIp();
    // B answers from memory: were the block not announced, it would let the right secret in.
    assert.deepEqual(await rightSecret(b, 'across', ip), { status: 200, statements: 0 });
    await block(a, 'across', ip);
    assert.equal((await rightSecret(a, 'across', ip)).status, 429);
    const there = await eventually(() => rightSecret(b, 'across', ip), (r) => r.status === 429);
    assert.equal(there.status, 429, 'B never learnt of the block');
    // Another address for the same client is not blocked.
    assert.deepEqual(await rightSecret(b, 'across', freshIp()), { status: 200, statements: 0 });
  });

  it('then a process started after the block refuses at once', async () => {
    const ip = freshIp();
    await block(a, 'late', ip);
    const late = await startTestDoorman(db.url, { ...config, issuer: a.config.issuer }, env, await freePort());
    try {
      assert.equal((await rightSecret(late, 'late', ip)).status, 429);
      // ... from what it loaded at start, not from a read of the table per request.
      assert.deepEqual(await rightSecret(late, 'late', freshIp()), { status: 200, statements: 0 });
    } finally {
      await late.close();
    }
  });

  it('then while a process\'s LISTEN connection is cut it reads the table, and after reconnecting knows what was blocked meanwhile', async () => {
    const listeners = () => db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE usename = $1 AND application_name = 'doorman notifications'`, [role]);
    let ip = '';
    // Retried in the rare case B reconnected before the block was made (it retries after a second).
    for (let attempt = 0; attempt < 5; attempt++) {
      const [listener] = await listeners();
      assert.ok(listener, 'B has a LISTEN connection');
      await db.query('SELECT pg_terminate_backend($1)', [listener.pid]);
      const down = await eventually(() => rightSecret(b, 'cut', freshIp()), (r) => r.statements > 0);
      assert.deepEqual(down, { status: 200, statements: 1 }, 'B falls back to one read of the table');
      ip = freshIp();
      await block(a, 'cut', ip); // announced while B does not listen
      const refused = await rightSecret(b, 'cut', ip);
      const stillDown = await rightSecret(b, 'cut', freshIp());
      if (stillDown.statements === 0) continue; // B was back already: try again
      assert.equal(refused.status, 429, 'B, from the table');
      break;
    }
    const back = await eventually(() => rightSecret(b, 'cut', freshIp()), (r) => r.statements === 0);
    assert.deepEqual(back, { status: 200, statements: 0 }, 'B is back on its in-memory list');
    assert.equal((await rightSecret(b, 'cut', ip)).status, 429, 'B loaded the block it missed');
    assert.equal((await listeners()).length, 1, 'one LISTEN connection again');
  });

  it('then a notification someone else sends on the channel refuses nobody, and a block lifted in the table ends at once', async () => {
    const ip = freshIp();
    const other = new pg.Client({ connectionString: urlAs('postgres').replace(/\?.*$/, '') });
    await other.connect();
    try {
      for (const payload of [
        `${Date.now() + 3_600_000} clientAuthFailuresPerIp:${ip}`,
        `${Date.now() + 3_600_000} clientAuthFailuresPerClient:forged`,
        `not-a-number clientAuthFailuresPerIp:${ip}`,
        `${'9'.repeat(16)} loginStartsPerIp:${ip}`,
        `${Date.now() + 60_000} clientAuthFailuresPerIp:${'x'.repeat(5000)}`,
      ]) await other.query('SELECT pg_notify($1, $2)', [BLOCKED_CHANNEL, `${db.schema}:${payload}`]);
    } finally {
      await other.end();
    }
    await new Promise((ok) => setTimeout(ok, 300));
    for (const doorman of [a, b]) assert.equal((await rightSecret(doorman, 'forged', ip)).status, 200);

    await block(a, 'forged', ip);
    await eventually(() => rightSecret(b, 'forged', ip), (r) => r.status === 429);
    await db.query('DELETE FROM "RateLimit" WHERE key = $1', [`clientAuthFailuresPerIp:${ip}`]);
    for (const doorman of [a, b]) assert.equal((await rightSecret(doorman, 'forged', ip)).status, 200);
    // Forgotten after that one read: the next right secret costs none.
    for (const doorman of [a, b]) assert.deepEqual(await rightSecret(doorman, 'forged', ip), { status: 200, statements: 0 });
  });

  it('then an address of non-ASCII characters, or too long to announce as it is, is blocked everywhere like any other', async () => {
    // Behind a proxy that passes on whatever it was sent, these become the keys (HTTP headers carry Latin-1).
    for (const ip of [`ünïcødé-ß-${freshIp()}`, `${freshIp()}-${'é'.repeat(400)}`]) {
      const failures: number[] = [];
      for (let i = 0; i < 3; i++) failures.push((await token(a, 'unicode', `wrong-${i}`, ip)).status);
      const there = await eventually(() => rightSecret(b, 'unicode', ip), (r) => r.status === 429);
      assert.equal(there.status, 429, `${failures.join(' ')} then ${there.status}`);
    }
  });
});

describe('when more keys are announced as blocked than a process keeps in memory', () => {
  let db: TestDatabase;
  let doorman: Doorman;
  before(async () => {
    db = await createTestDatabase();
    doorman = await startTestDoorman(db.url, {
      trustProxy: true, rateLimits: LIMITS,
      clients: [{ clientId: 'flooded', clientSecretEnv: 'SECRET_FLOODED', redirectUris: ['http://127.0.0.1:4999/cb'], grantTypes: ['client_credentials'] }],
    } as ConfigInput, { SECRET_FLOODED: secretOf('flooded') });
  });
  after(async () => {
    await doorman.close();
    await db.drop();
  });

  it('then it checks them in the table instead of forgetting any', async () => {
    const ip = freshIp();
    await block(doorman, 'flooded', ip);
    assert.equal((await rightSecret(doorman, 'flooded', ip)).status, 429);
    // As anyone with access to the database could: more distinct blocks than MAX_ENTRIES, at once.
    await db.query(`SELECT pg_notify($1, $2 || ':' || $3 || ' clientAuthFailuresPerIp:flood-' || n) FROM generate_series(1, $4::int) AS n`,
      [BLOCKED_CHANNEL, db.schema, Date.now() + 600_000, MAX_ENTRIES + 10]);
    const fallback = await eventually(() => rightSecret(doorman, 'flooded', freshIp()), (r) => r.statements > 0);
    assert.deepEqual(fallback, { status: 200, statements: 1 }, 'unblocked keys are read from the table');
    assert.equal((await rightSecret(doorman, 'flooded', ip)).status, 429, 'the real block held');
  });
});
