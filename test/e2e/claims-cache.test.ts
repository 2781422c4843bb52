import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openProfileCache, type ProfileCache } from '../../src/accounts/profile-cache.ts';
import { mergeAccounts, setDisabled } from '../../src/accounts/admin.ts';
import type { AccountProfile } from '../../src/accounts/profile.ts';
import { unlinkIdentity } from '../../src/accounts/service.ts';
import { createDb, poolOf, type Db } from '../../src/db/client.ts';
import { openNotifications } from '../../src/db/notifications.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

/**
 * Issue #11: claims are cached per process (database.claimsCacheSeconds), yet a disable,
 * merge or unlink made anywhere is seen at once by every process. Two processes (this one
 * and a forked one), each with its own cache, pool and LISTEN connection, on one
 * database; the writes run in this process through the same service functions the admin
 * API, console and Account page use. The caches' lifetime (120 s) is far longer than a
 * test, so only the invalidation can explain a fresh answer.
 */
const TTL = 120;
/** How long a notification may take to arrive (it is sent at commit); generous for a busy machine. */
const DELIVERY_MS = 3000;

describe('claims cache across two processes', () => {
  let t: TestDatabase;
  let db: Db;
  let here: ProfileCache;
  let child: ChildProcess;
  let there: (accountId: string) => Promise<AccountProfile | null>;

  let startedAt: Date;
  before(async () => {
    startedAt = new Date(Date.now() - 1000);
    t = await createTestDatabase();
    await migrate(t.url, testLog);
    db = createDb(t.url, 4);
    here = await openProfileCache(db, TTL, openNotifications(poolOf(db), testLog));
    child = fork(new URL('../helpers/profile-cache-process.ts', import.meta.url).pathname, [], {
      execArgv: ['--import', 'tsx'], env: { ...process.env, DATABASE_URL: t.url, CLAIMS_CACHE_SECONDS: String(TTL) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await once(child, 'message');
    there = async (accountId) => {
      child.send({ find: accountId });
      const [reply] = await once(child, 'message') as [{ profile: AccountProfile | null }];
      return reply.profile;
    };
  });
  after(async () => {
    child.send({ close: true });
    await once(child, 'exit');
    await here.close();
    await db.$disconnect();
    await t.drop();
  });

  /** An account with one identity per entry of `groups` (oldest first), each its own group list. */
  async function account(id: string, ...groups: string[][]): Promise<string[]> {
    await t.query('INSERT INTO "Account" (id, email) VALUES ($1, $2)', [id, `${id}@example.com`]);
    const ids: string[] = [];
    for (const [n, g] of groups.entries()) {
      const identityId = `${id}-identity-${n}`;
      await t.query(`INSERT INTO "Identity" (id, provider, subject, "accountId", email, "emailCanonical", "emailVerified", profile, "createdAt")
        VALUES ($1, 'google', $1, $2, $3, $3, true, $4, now() + make_interval(secs => $5))`, [identityId, id, `${id}@example.com`, JSON.stringify({ name: id, groups: g }), n]);
      ids.push(identityId);
    }
    // The inserts' own notifications arrive after this returns; let them, so they do not empty what a test caches next.
    await new Promise((ok) => setTimeout(ok, 300));
    return ids;
  }
  const groupsOf = (p: AccountProfile | null | undefined) => p?.groups;
  /** Asks both processes until `expected` holds in both, or DELIVERY_MS passed; returns what each said last. */
  async function bothSee(accountId: string, expected: (p: AccountProfile | null | undefined) => boolean) {
    const deadline = Date.now() + DELIVERY_MS;
    for (;;) {
      const [a, b] = [await here.find(accountId), await there(accountId)];
      if ((expected(a) && expected(b)) || Date.now() > deadline) return { here: a, there: b };
      await new Promise((ok) => setTimeout(ok, 20));
    }
  }
  async function cachedInBoth(accountId: string): Promise<void> {
    await here.find(accountId);
    await there(accountId);
  }

  it('when nothing changes, then both processes answer from memory (a change with the triggers off goes unseen)', async () => {
    await account('steady', ['g:one']);
    await cachedInBoth('steady');
    await t.query('ALTER TABLE "Identity" DISABLE TRIGGER USER');
    try {
      await t.query(`UPDATE "Identity" SET profile = jsonb_set(profile, '{groups}', '["g:sneaky"]') WHERE "accountId" = 'steady'`);
    } finally {
      await t.query('ALTER TABLE "Identity" ENABLE TRIGGER USER');
    }
    assert.deepEqual(groupsOf(await here.find('steady')), ['g:one']);
    assert.deepEqual(groupsOf(await there('steady')), ['g:one']);
  });

  it('when an identity is unlinked in one process, then both show the claims without it', async () => {
    const [, second] = await account('unlinked', ['g:first'], ['g:second']);
    assert.deepEqual(groupsOf(await here.find('unlinked')), ['g:first', 'g:second']);
    assert.deepEqual(groupsOf(await there('unlinked')), ['g:first', 'g:second']);
    assert.equal((await unlinkIdentity(db, 'unlinked', second!)).kind, 'unlinked');
    const seen = await bothSee('unlinked', (p) => p?.groups.join() === 'g:first');
    assert.deepEqual(groupsOf(seen.here), ['g:first']);
    assert.deepEqual(groupsOf(seen.there), ['g:first']);
  });

  it('when two accounts are merged, then both show the survivor with the moved identity and the retired one as gone', async () => {
    await account('survivor', ['g:kept']);
    await account('retired', ['g:moved']);
    for (const id of ['survivor', 'retired']) {
      assert.ok(await here.find(id));
      assert.ok(await there(id));
    }
    assert.equal((await mergeAccounts(db, 'survivor', 'retired', 'test')).kind, 'done');
    const survivor = await bothSee('survivor', (p) => p?.groups.join() === 'g:kept,g:moved');
    assert.deepEqual(groupsOf(survivor.here), ['g:kept', 'g:moved']);
    assert.deepEqual(groupsOf(survivor.there), ['g:kept', 'g:moved']);
    const retired = await bothSee('retired', (p) => !p);
    assert.equal(retired.here, undefined);
    assert.equal(retired.there, null);
  });

  it('when an account is disabled in one process, then neither answers with its claims any more', async () => {
    await account('disabled', ['g:x']);
    assert.ok(await here.find('disabled'));
    assert.ok(await there('disabled'));
    assert.equal((await setDisabled(db, 'disabled', true, 'test')).kind, 'done');
    const seen = await bothSee('disabled', (p) => !p);
    assert.equal(seen.here, undefined);
    assert.equal(seen.there, null);
  });

  it('when another installation in the same database changes an account of the same id, then this one keeps its cache', async () => {
    await account('namesake', ['g:mine']);
    await cachedInBoth('namesake');
    const other = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await other.connect();
    try {
      await other.query(`SELECT pg_notify('doorman_account_changed', 'some_other_schema:namesake')`);
      // Behind the cache's back, so a (wrong) invalidation would show the new groups.
      await t.query('ALTER TABLE "Identity" DISABLE TRIGGER USER');
      await t.query(`UPDATE "Identity" SET profile = jsonb_set(profile, '{groups}', '["g:changed"]') WHERE "accountId" = 'namesake'`);
      await t.query('ALTER TABLE "Identity" ENABLE TRIGGER USER');
      await new Promise((ok) => setTimeout(ok, 300));
      assert.deepEqual(groupsOf(await here.find('namesake')), ['g:mine']);
      assert.deepEqual(groupsOf(await there('namesake')), ['g:mine']);
    } finally {
      await other.end();
    }
  });

  it('when the change channel breaks, then nothing cached is served and the cache works again after it reconnects', async () => {
    await account('channel', ['g:before']);
    await cachedInBoth('channel');
    // Both listeners of this test; other test files' caches live on in their own schemas' search_path, not here.
    const ended = await t.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE application_name = 'doorman notifications' AND query LIKE 'LISTEN%' AND client_port IS NOT NULL
        AND pid IN (SELECT pid FROM pg_stat_activity WHERE backend_start >= $1)`, [startedAt]);
    assert.ok(ended.length >= 2);
    await t.query('ALTER TABLE "Identity" DISABLE TRIGGER USER');
    await t.query(`UPDATE "Identity" SET profile = jsonb_set(profile, '{groups}', '["g:after"]') WHERE "accountId" = 'channel'`);
    await t.query('ALTER TABLE "Identity" ENABLE TRIGGER USER');
    // The break reaches each process as a socket error; from then on it reads the database.
    const seen = await bothSee('channel', (p) => p?.groups.join() === 'g:after');
    assert.deepEqual(groupsOf(seen.here), ['g:after']);
    assert.deepEqual(groupsOf(seen.there), ['g:after']);
  });
});
