import assert from 'node:assert/strict';
import { after, before, beforeEach, it } from 'node:test';
import type { Config } from '../../src/config/load.ts';
import { createDb, poolOf, type Db } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { freePort } from '../../src/free-port.ts';
import { createLogger } from '../../src/log.ts';
import { readUpstreamOverview } from '../../src/upstream-activity/overview.ts';
import { UpstreamCallNotes } from '../../src/upstream-activity/upstream-call-notes.ts';
import type { UpstreamConnector } from '../../src/upstreams/connector.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

/** Notes of upstream calls, queued per process and written in batches (src/upstream-activity/upstream-call-notes.ts). */
let testDb: TestDatabase;
let db: Db;
/** Rows in each INSERT into UpstreamCall that `db`'s pool sent. */
const inserts: number[] = [];
before(async () => {
  testDb = await createTestDatabase();
  await migrate(testDb.url, testLog);
  db = createDb(testDb.url, 4);
  const pool = poolOf(db);
  const query = pool.query.bind(pool) as (config: { text: string; values: unknown[][] }) => Promise<unknown>;
  // Counted where the statement leaves for the pool, as bench/doorman-process.mjs counts.
  (pool as unknown as { query: typeof query }).query = (config) => {
    if (/INSERT INTO "UpstreamCall"/.test(config.text)) inserts.push(config.values[0]!.length);
    return query(config);
  };
});
after(async () => {
  await db.$disconnect();
  await testDb.drop();
});
beforeEach(async () => {
  inserts.length = 0;
  await testDb.query('DELETE FROM "UpstreamCall"');
});

/** A real logger whose lines the test reads. */
function capturedLog() {
  const lines: { level: string; msg: string; [field: string]: unknown }[] = [];
  return { log: createLogger('warn', (line) => lines.push(JSON.parse(line))), lines };
}
const rows = async () => Number((await testDb.query<{ n: string }>('SELECT count(*) AS n FROM "UpstreamCall"'))[0]!.n);
const call = (i: number) => ({ upstream: 'google', stage: 'callback' as const, latencyMs: i });
/** Long enough that no timer fires during a test that does not wait for one. */
const NO_TIMER = 60_000;

it('when 450 logins note their callback, then three INSERTs write them: 200 and 200 as the batches fill, the last 50 at the flush', async () => {
  const notes = new UpstreamCallNotes({ db, log: testLog }, { batchSize: 200, flushIntervalMs: NO_TIMER });
  for (let i = 0; i < 450; i++) notes.note(call(i));
  await notes.flush();
  assert.deepEqual(inserts, [200, 200, 50]);
  assert.equal(await rows(), 450);
  await notes.close();
});

it('when a few notes wait, then they are written in one INSERT within the flush interval, without anyone flushing', async () => {
  const notes = new UpstreamCallNotes({ db, log: testLog }, { batchSize: 200, flushIntervalMs: 100 });
  notes.note(call(1));
  notes.note({ upstream: 'github', stage: 'start', failure: { kind: 'unavailable', message: 'discovery: refused' }, latencyMs: 4.4 });
  notes.note(call(3));
  const until = Date.now() + 5000;
  while ((await rows()) < 3 && Date.now() < until) await new Promise((ok) => setTimeout(ok, 20));
  assert.deepEqual(inserts, [3]);
  const [failure] = await testDb.query('SELECT upstream, stage, ok, kind, error, "latencyMs" FROM "UpstreamCall" WHERE NOT ok');
  assert.deepEqual(failure, { upstream: 'github', stage: 'start', ok: false, kind: 'unavailable', error: 'discovery: refused', latencyMs: 4 });
  await notes.close();
});

it('when more notes come than the bound holds, then the rest are dropped and the drop is logged once per flush', async () => {
  const { log, lines } = capturedLog();
  const notes = new UpstreamCallNotes({ db, log }, { batchSize: 200, flushIntervalMs: NO_TIMER, maxPending: 10 });
  for (let i = 0; i < 25; i++) notes.note(call(i));
  await notes.flush();
  assert.equal(await rows(), 10);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 'warn');
  assert.equal(lines[0]!.dropped, 15);
  // Written, the bound holds ten more; nothing dropped, nothing logged.
  for (let i = 0; i < 10; i++) notes.note(call(i));
  await notes.flush();
  assert.equal(await rows(), 20);
  assert.equal(lines.length, 1);
  await notes.close();
});

it('when the database is unreachable, then a flush logs one warning, loses its batch and does not throw, and the lost batch frees its room in the bound', async () => {
  const unreachable = new URL(testDb.url);
  unreachable.port = String(await freePort());
  const gone = createDb(unreachable.toString(), 1);
  const { log, lines } = capturedLog();
  try {
    const notes = new UpstreamCallNotes({ db: gone, log }, { batchSize: 200, flushIntervalMs: NO_TIMER, maxPending: 5 });
    for (let i = 0; i < 5; i++) notes.note(call(i));
    await notes.flush();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'warn');
    assert.equal(lines[0]!.lost, 5);
    // The lost batch no longer counts against the bound.
    for (let i = 0; i < 5; i++) notes.note(call(i));
    await notes.close();
    assert.deepEqual(lines.map((l) => [l.lost, l.dropped]), [[5, undefined], [5, undefined]]);
  } finally {
    await gone.$disconnect();
  }
});

it('when the app closes, then close() writes what is still queued', async () => {
  const notes = new UpstreamCallNotes({ db, log: testLog }, { batchSize: 200, flushIntervalMs: NO_TIMER });
  for (let i = 0; i < 7; i++) notes.note(call(i));
  assert.equal(await rows(), 0, 'queued, not yet written');
  await notes.close();
  assert.equal(await rows(), 7);
  assert.deepEqual(inserts, [7]);
});

it('when the overview is read, then this process\'s queued notes count at once', async () => {
  const notes = new UpstreamCallNotes({ db, log: testLog }, { batchSize: 200, flushIntervalMs: NO_TIMER });
  notes.note(call(120));
  const connectors = new Map([['google', { id: 'google', displayName: 'Google', type: 'google' } as UpstreamConnector]]);
  const [google] = await readUpstreamOverview({ db, config: { issuer: 'https://doorman.example' } as Config, connectors, upstreamCallNotes: notes });
  assert.equal(google!.hour.signIns, 1);
  assert.deepEqual(google!.hour.latencyMs, { p50: 120, p95: 120 });
  await notes.close();
});
