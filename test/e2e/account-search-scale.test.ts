import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { searchAccounts } from '../../src/accounts/admin.ts';
import { accountSearchQuery } from '../../src/accounts/search.ts';
import { createDb, type Db } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { Prisma } from '../../src/generated/prisma/client.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

/**
 * The admin search (console and GET /admin/api/accounts) at a million accounts: every
 * way to match uses an index (pg_trgm GIN for parts of emails and names, b-trees for
 * exact values), never a scan of Account or Identity, and answers within a second.
 */
const ACCOUNTS = 1_000_000;

describe(`when an admin searches ${ACCOUNTS.toLocaleString('en')} accounts`, () => {
  let tdb: TestDatabase;
  let db: Db;
  before(async () => {
    tdb = await createTestDatabase();
    await migrate(tdb.url, testLog);
    // Loading a million rows is minutes faster without the trigram indexes: they are dropped
    // and then made again by the very statements of their migration.
    const trigramIndexes = readFileSync(new URL('../../prisma/migrations/20261122200100_account_search_trigrams/migration.sql', import.meta.url), 'utf8')
      .split('\n').filter((line) => /^CREATE INDEX "\w+_trgm_idx"/.test(line));
    assert.equal(trigramIndexes.length, 4);
    for (const line of trigramIndexes) await tdb.query(`DROP INDEX "${/^CREATE INDEX "(\w+)"/.exec(line)![1]}"`);
    // One Google identity per account, made one minute apart.
    await tdb.query(`
      INSERT INTO "Account" (id, "createdAt", email)
      SELECT 'acc-' || i, timestamp '2020-01-01' + make_interval(mins => i), 'user' || i || '@example' || (i % 1000) || '.org'
      FROM generate_series(1, ${ACCOUNTS}) AS i`);
    await tdb.query(`
      INSERT INTO "Identity" (id, provider, subject, "accountId", email, "emailCanonical", "emailVerified", profile, "createdAt")
      SELECT 'idn-' || i, 'google', (100000000000 + i)::text, 'acc-' || i, 'User' || i || '@Example' || (i % 1000) || '.org', 'user' || i || '@example' || (i % 1000) || '.org', true,
        jsonb_build_object('name', 'Person Number ' || i, 'groups', '[]'::jsonb), timestamp '2020-01-01' + make_interval(mins => i)
      FROM generate_series(1, ${ACCOUNTS}) AS i`);
    await tdb.query(`SET maintenance_work_mem = '256MB'`);
    for (const line of trigramIndexes) await tdb.query(line);
    await tdb.query('VACUUM ANALYZE "Account"');
    await tdb.query('VACUUM ANALYZE "Identity"');
    db = createDb(tdb.url);
  });
  after(async () => {
    await db?.$disconnect();
    await tdb?.drop();
  });

  const cases: [string, string, string][] = [
    ['part of an email', 'user777777@exam', 'acc-777777'],
    ['a whole email, in another case', 'USER424242@example242.org', 'acc-424242'],
    ['part of a name, in another case', 'person number 654321', 'acc-654321'],
    ['an upstream subject', '100000123456', 'acc-123456'],
    ['an account id', 'acc-999', 'acc-999'],
    ['two characters (whole values only)', 'us', ''],
  ];
  for (const [what, query, expected] of cases) {
    it(`then a search by ${what} uses indexes and answers within a second`, async () => {
      const plan = (await db.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`EXPLAIN ${accountSearchQuery({ query, limit: 26 })}`)).map((r) => r['QUERY PLAN']).join('\n');
      assert.doesNotMatch(plan, /Seq Scan/, plan);
      if (what.startsWith('part')) assert.match(plan, /Bitmap Index Scan on "\w+_trgm_idx"/, plan);
      const { accounts } = await searchAccounts(db, { query, limit: 25 });
      if (expected) assert.ok(accounts.some((a) => a.id === expected), `${expected} among ${accounts.map((a) => a.id).join(', ')}`);
      else assert.deepEqual(accounts, []);
      // Timed once the first search has read the indexes into memory, as when an admin refines a search.
      const started = performance.now();
      await searchAccounts(db, { query: query.slice(1), limit: 25 });
      const ms = performance.now() - started;
      assert.ok(ms < 1000, `${ms} ms`);
    });
  }

  it('then the unfiltered list and its next page read the (createdAt, id) index, newest first', async () => {
    const plan = (await db.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`EXPLAIN ${accountSearchQuery({ limit: 26, cursor: 'acc-500000' })}`)).map((r) => r['QUERY PLAN']).join('\n');
    assert.doesNotMatch(plan, /Seq Scan/, plan);
    const first = await searchAccounts(db, { limit: 3 });
    assert.deepEqual(first.accounts.map((a) => a.id), [`acc-${ACCOUNTS}`, `acc-${ACCOUNTS - 1}`, `acc-${ACCOUNTS - 2}`]);
    const next = await searchAccounts(db, { limit: 2, cursor: first.nextCursor! });
    assert.deepEqual(next.accounts.map((a) => a.id), [`acc-${ACCOUNTS - 3}`, `acc-${ACCOUNTS - 4}`]);
  });

  it('then % and _ typed by the admin are characters, not wildcards', async () => {
    assert.deepEqual((await searchAccounts(db, { query: 'user1%@', limit: 5 })).accounts, []);
    assert.deepEqual((await searchAccounts(db, { query: 'user_1@', limit: 5 })).accounts, []);
  });
});
