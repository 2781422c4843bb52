import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { migrate, MigrationError, readMigrations } from '../../src/db/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

describe('when Doorman applies its migrations', () => {
  let db: TestDatabase;
  before(async () => { db = await createTestDatabase(); });
  after(() => db.drop());

  it('then two processes migrating at once apply each migration exactly once', async () => {
    const [a, b] = await Promise.all([migrate(db.url, testLog), migrate(db.url, testLog)]);
    const files = await readMigrations();
    assert.deepEqual([...a, ...b], files.map((f) => f.name), 'one applied everything, the other nothing');
  });

  it('then each is recorded in _prisma_migrations the way prisma migrate deploy records it', async () => {
    const rows = await db.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number; rolled_back_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM "_prisma_migrations" ORDER BY migration_name');
    const files = await readMigrations();
    assert.equal(rows.length, files.length);
    for (const [i, file] of files.entries()) {
      assert.equal(rows[i]!.migration_name, file.name);
      assert.equal(rows[i]!.checksum, createHash('sha256').update(file.sql).digest('hex'));
      assert.ok(rows[i]!.finished_at);
      assert.equal(rows[i]!.applied_steps_count, 1);
      assert.equal(rows[i]!.rolled_back_at, null);
    }
  });

  it('then running again applies nothing', async () => {
    assert.deepEqual(await migrate(db.url, testLog), []);
  });

  it('then a failing migration leaves no partial change, is recorded with its error, and blocks later runs', async () => {
    const bad = { name: '29990101000000_broken', sql: 'CREATE TABLE "Half" (id int); SELECT * FROM "NoSuchTable";', checksum: 'x'.repeat(64) };
    const files = [...await readMigrations(), bad];
    await assert.rejects(migrate(db.url, testLog, files), (err: Error) => err instanceof MigrationError && /29990101000000_broken failed/.test(err.message));
    assert.deepEqual(await db.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'Half'`, [db.schema]), []);
    const [row] = await db.query<{ finished_at: Date | null; logs: string }>(`SELECT finished_at, logs FROM "_prisma_migrations" WHERE migration_name = $1`, [bad.name]);
    assert.equal(row!.finished_at, null);
    assert.match(row!.logs, /NoSuchTable/);
    await assert.rejects(migrate(db.url, testLog, files), /failed earlier/);
  });
});

describe('when the primary-email migration meets accounts made before it', () => {
  let db: TestDatabase;
  before(async () => { db = await createTestDatabase(); });
  after(() => db.drop());

  it('then each account\'s primary email is its first verified identity\'s, and only plain ASCII addresses get a canonical form', async () => {
    const files = await readMigrations();
    const at = files.findIndex((f) => f.name.endsWith('_primary_email'));
    await migrate(db.url, testLog, files.slice(0, at));
    await db.query(`INSERT INTO "Account" (id) VALUES ('A'), ('B'), ('C')`);
    const identity = (id: string, account: string, email: string | null, verified: boolean, createdAt: string) => db.query(
      `INSERT INTO "Identity" (id, provider, subject, "accountId", email, "emailVerified", profile, "createdAt") VALUES ($1, 'p', $1, $2, $3, $4, '{}', $5)`,
      [id, account, email, verified, createdAt]);
    await identity('a-facebook', 'A', 'alice@example.com', false, '2026-01-01');
    await identity('a-github', 'A', 'octo@github.example', true, '2026-01-03');
    await identity('a-google', 'A', 'alice@example.com', true, '2026-01-02');
    await identity('b-idn', 'B', 'kim@bücher.example', true, '2026-01-01');
    await identity('c-none', 'C', null, false, '2026-01-01');
    await migrate(db.url, testLog, files);
    assert.deepEqual(await db.query('SELECT id, email FROM "Account" ORDER BY id'), [{ id: 'A', email: 'alice@example.com' }, { id: 'B', email: null }, { id: 'C', email: null }]);
    assert.deepEqual(await db.query('SELECT id, "emailCanonical" FROM "Identity" ORDER BY id'), [
      { id: 'a-facebook', emailCanonical: 'alice@example.com' }, { id: 'a-github', emailCanonical: 'octo@github.example' },
      { id: 'a-google', emailCanonical: 'alice@example.com' }, { id: 'b-idn', emailCanonical: null }, { id: 'c-none', emailCanonical: null },
    ]);
  });
});
