import assert from 'node:assert/strict';
import { it } from 'node:test';
import { readPairwiseSalt } from '../../src/claims/repository.ts';
import { createDb } from '../../src/db/client.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

it('when processes start together on a new database, then they all read one pairwise salt, and it never changes', async () => {
  const db = await createTestDatabase();
  await migrate(db.url, testLog, await readMigrations());
  const processes = Array.from({ length: 4 }, () => createDb(db.url, 2));
  try {
    const salts = await Promise.all(processes.map((p) => readPairwiseSalt(p)));
    assert.equal(new Set(salts).size, 1, salts.join(' '));
    assert.ok(salts[0]!.length >= 43, '256 bits');
    assert.equal(await readPairwiseSalt(processes[0]!), salts[0]);
    assert.equal((await db.query('SELECT count(*)::int AS n FROM "PairwiseSalt"'))[0]!.n, 1);
  } finally {
    await Promise.all(processes.map((p) => p.$disconnect()));
    await db.drop();
  }
});
