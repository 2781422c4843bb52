import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createDb, poolOf, type Db } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openNotifications } from '../../src/db/notifications.ts';
import { openBlockedKeys, type BlockedKeys } from '../../src/rate-limits/blocked-keys.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

/**
 * The in-memory list of blocked keys (src/rate-limits/blocked-keys.ts) on real Postgres.
 * A block can be in the table without its NOTIFY ever arriving: the process that reached
 * the limit died between its count and its announcement, its NOTIFY failed (a pool out of
 * connections under the very flood that made the block), or it runs a version from before
 * the announcements during a rolling upgrade. The list must not stay "complete" without it.
 */
const RELOAD_MS = 200;
let testDb: TestDatabase;
let db: Db;
let blocked: BlockedKeys;
before(async () => {
  testDb = await createTestDatabase();
  await migrate(testDb.url, testLog);
  db = createDb(testDb.url, 4);
  const pool = poolOf(db);
  blocked = await openBlockedKeys({
    pool, notifications: openNotifications(pool, testLog), log: testLog, reloadMs: RELOAD_MS,
    limits: [{ name: 'clientAuthFailuresPerIp', points: 3, durationMs: 600_000 }],
  });
});
after(async () => {
  await blocked.close();
  await db.$disconnect();
  await testDb.drop();
});

it('a block in the table that was never announced is known within the reload interval', async () => {
  assert.equal(blocked.known, true, 'listening and loaded: right secrets are checked in memory only');
  const key = 'clientAuthFailuresPerIp:198.51.100.7';
  await testDb.query('INSERT INTO "RateLimit" (key, points, expire) VALUES ($1, 3, $2)', [key, Date.now() + 600_000]);
  const deadline = Date.now() + 10 * RELOAD_MS;
  while (blocked.until(key, Date.now()) === undefined && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 20));
  assert.notEqual(blocked.until(key, Date.now()), undefined, 'the list said it was complete, yet missed a block for its whole window');
  assert.equal(blocked.known, true);
});
