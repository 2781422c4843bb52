import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createDb, type Db } from '../../src/db/client.ts';
import { isDatabaseUnavailable } from '../../src/db/outage.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let testDb: TestDatabase;
let db: Db;
before(async () => {
  testDb = await createTestDatabase();
  db = createDb(testDb.url, 2, 200);
});
after(async () => {
  await db.$disconnect();
  await testDb.drop();
});

it('when a statement outlasts database.statementTimeoutMs, then PostgreSQL cancels it and Doorman calls that unavailable (503)', async () => {
  const err = await db.$queryRaw`SELECT pg_sleep(5)`.then(() => undefined, (e: unknown) => e);
  assert.ok(err, 'the statement should have been cancelled');
  assert.equal(isDatabaseUnavailable(err), true, String(err));
  const rows = await db.$queryRaw<{ ok: number }[]>`SELECT 1 AS ok`;
  assert.deepEqual(rows, [{ ok: 1 }], 'the connection stays usable after a cancelled statement');
});
