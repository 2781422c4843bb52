import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Adapter } from 'oidc-provider';
// oidc-provider's reference implementation of the adapter contract; not in its typed exports.
// @ts-expect-error -- no type declarations for this deep import
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import { createDb, type Db } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { ConsumeRaceLostError, createOidcAdapter, deleteExpiredOidcRows, RowsAlreadyRead } from '../../src/oidc/adapter.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

/**
 * The adapter contract of oidc-provider (example/my_adapter.js), run against its own
 * MemoryAdapter and against ours, so ours is held to the reference's behaviour.
 */
function describeAdapterContract(name: string, setup: () => Promise<{ factory: (model: string) => Adapter; teardown: () => Promise<void> }>) {
  describe(`${name} adapter contract`, () => {
    let factory: (model: string) => Adapter;
    let teardown: () => Promise<void>;
    before(async () => ({ factory, teardown } = await setup()));
    after(() => teardown());
    const id = () => `id-${Math.random().toString(36).slice(2)}`;

    it('when a payload is upserted, then find returns it, and upserting again replaces it', async () => {
      const a = factory('AccessToken');
      const key = id();
      await a.upsert(key, { jti: key, accountId: 'acc', grantId: 'g1' } as never, 60);
      assert.deepEqual(await a.find(key), { jti: key, accountId: 'acc', grantId: 'g1' });
      await a.upsert(key, { jti: key, accountId: 'acc2' } as never, 60);
      assert.deepEqual(await a.find(key), { jti: key, accountId: 'acc2' });
    });

    it('when a model name differs, then the same id is a different row', async () => {
      const key = id();
      await factory('AccessToken').upsert(key, { kind: 'AccessToken' } as never, 60);
      assert.equal(await factory('RefreshToken').find(key), undefined);
    });

    it('when nothing was stored, then find, findByUid and findByUserCode return undefined', async () => {
      const a = factory('Session');
      assert.equal(await a.find(id()), undefined);
      assert.equal(await a.findByUid(id()), undefined);
      assert.equal(await factory('DeviceCode').findByUserCode(id()), undefined);
    });

    it('when a key holds a NUL (a client sent %00 as a token), then nothing is found and nothing fails', async () => {
      assert.equal(await factory('AuthorizationCode').find(`a\0${id()}`), undefined);
      assert.equal(await factory('Session').findByUid('\0'), undefined);
      assert.equal(await factory('DeviceCode').findByUserCode('AB\0CD'), undefined);
    });

    it('when a session is stored, then it is found by its uid', async () => {
      const key = id();
      const uid = id();
      await factory('Session').upsert(key, { uid, accountId: 'acc' } as never, 60);
      assert.deepEqual(await factory('Session').findByUid(uid), { uid, accountId: 'acc' });
    });

    it('when a device code is stored, then it is found by its user code', async () => {
      const key = id();
      await factory('DeviceCode').upsert(key, { userCode: 'ABCD-EFGH', grantId: 'g' } as never, 60);
      assert.deepEqual(await factory('DeviceCode').findByUserCode('ABCD-EFGH'), { userCode: 'ABCD-EFGH', grantId: 'g' });
    });

    it('when a code is consumed, then find returns it with consumed set', async () => {
      const a = factory('AuthorizationCode');
      const key = id();
      await a.upsert(key, { grantId: 'g' } as never, 60);
      await a.consume(key);
      const found = await a.find(key) as { consumed?: unknown };
      assert.ok(found.consumed, 'consumed is set');
    });

    it('when destroyed, then it is gone', async () => {
      const a = factory('Interaction');
      const key = id();
      await a.upsert(key, { returnTo: '/x' } as never, 60);
      await a.destroy(key);
      assert.equal(await a.find(key), undefined);
    });

    it('when a grant is revoked, then that model\'s rows of the grant are gone and others stay', async () => {
      const a = factory('RefreshToken');
      const [k1, k2, k3] = [id(), id(), id()];
      const grantId = id();
      await a.upsert(k1, { grantId } as never, 60);
      await a.upsert(k2, { grantId } as never, 60);
      await a.upsert(k3, { grantId: id() } as never, 60);
      await a.revokeByGrantId(grantId);
      assert.equal(await a.find(k1), undefined);
      assert.equal(await a.find(k2), undefined);
      assert.ok(await a.find(k3));
    });

    it('when expiresIn is absent, then the row does not expire', async () => {
      const key = id();
      await factory('Grant').upsert(key, { accountId: 'acc' } as never);
      assert.deepEqual(await factory('Grant').find(key), { accountId: 'acc' });
    });
  });
}

describeAdapterContract('MemoryAdapter (reference)', async () => ({
  factory: (model) => new MemoryAdapter(model) as Adapter,
  teardown: async () => {},
}));

let db: Db;
let testDb: TestDatabase;
describeAdapterContract('OidcModelAdapter (pg)', async () => {
  testDb = await createTestDatabase();
  await migrate(testDb.url, testLog);
  db = createDb(testDb.url, 2);
  return {
    factory: createOidcAdapter(db),
    teardown: async () => {
      await db.$disconnect();
      await testDb.drop();
    },
  };
});

describe('OidcModelAdapter expiry', () => {
  let t: TestDatabase;
  let pdb: Db;
  before(async () => {
    t = await createTestDatabase();
    await migrate(t.url, testLog);
    pdb = createDb(t.url, 2);
  });
  after(async () => {
    await pdb.$disconnect();
    await t.drop();
  });

  it('when a row has expired, then find hides it and the sweep deletes it', async () => {
    const adapter = createOidcAdapter(pdb)('AccessToken');
    await adapter.upsert('old', { jti: 'old' } as never, 60);
    await adapter.upsert('fresh', { jti: 'fresh' } as never, 60);
    await t.query(`UPDATE "OidcModel" SET "expiresAt" = now() - interval '1 second' WHERE id = 'old'`);
    assert.equal(await adapter.find('old'), undefined);
    assert.equal(await deleteExpiredOidcRows(pdb), 1);
    assert.deepEqual((await t.query<{ id: string }>('SELECT id FROM "OidcModel"')).map((r) => r.id), ['fresh']);
  });

  it('when a device code expires, then its row stays findable an hour longer (for expired_token), and the newest of one user code wins', async () => {
    const adapter = createOidcAdapter(pdb)('DeviceCode');
    await adapter.upsert('dc-old', { userCode: 'BCDFGHJK', jti: 'dc-old' } as never, 60);
    const [row] = await t.query<{ seconds: number }>(`SELECT extract(epoch from "expiresAt" - now())::int AS seconds FROM "OidcModel" WHERE id = 'dc-old'`);
    assert.ok(Number(row!.seconds) > 3600 && Number(row!.seconds) <= 3660, String(row!.seconds));
    await t.query(`UPDATE "OidcModel" SET "expiresAt" = now() + interval '5 minutes' WHERE id = 'dc-old'`);
    await adapter.upsert('dc-new', { userCode: 'BCDFGHJK', jti: 'dc-new' } as never, 60);
    assert.deepEqual(await adapter.findByUserCode('BCDFGHJK'), { userCode: 'BCDFGHJK', jti: 'dc-new' });
    const access = createOidcAdapter(pdb)('AccessToken');
    await access.upsert('at-kept-not', { jti: 'at-kept-not' } as never, 60);
    const [other] = await t.query<{ seconds: number }>(`SELECT extract(epoch from "expiresAt" - now())::int AS seconds FROM "OidcModel" WHERE id = 'at-kept-not'`);
    assert.ok(Number(other!.seconds) <= 60, 'other models expire when they say');
  });

  it('when the process runs in a time zone far from UTC, then expiry and consume times are still stored as UTC', async () => {
    const zone = process.env.TZ;
    process.env.TZ = 'Pacific/Kiritimati'; // UTC+14: a local-time slip would show as 14 hours
    try {
      const adapter = createOidcAdapter(pdb)('AuthorizationCode');
      await adapter.upsert('zoned', { grantId: 'g' } as never, 60);
      await adapter.consume('zoned');
      assert.ok(await adapter.find('zoned'), 'found: not taken for expired');
      const [row] = await t.query<{ expires_in: number; consumed_ago: number }>(`SELECT extract(epoch FROM "expiresAt" - (now() AT TIME ZONE 'UTC'))::float AS expires_in,
        extract(epoch FROM (now() AT TIME ZONE 'UTC') - "consumedAt")::float AS consumed_ago FROM "OidcModel" WHERE id = 'zoned'`);
      assert.ok(Math.abs(row!.expires_in - 60) < 30, `expires in ${row!.expires_in} s`);
      assert.ok(Math.abs(row!.consumed_ago) < 30, `consumed ${row!.consumed_ago} s ago`);
      assert.ok(Math.abs((await adapter.find('zoned') as { consumed: number }).consumed - Date.now() / 1000) < 30);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('when a payload holds NUL (which jsonb cannot store), then upsert refuses it as invalid_request and stores nothing', async () => {
    const adapter = createOidcAdapter(pdb)('Interaction');
    await assert.rejects(adapter.upsert('nul', { params: { state: 'a\0b' } } as never, 60), { name: 'InvalidRequest', statusCode: 400 });
    await adapter.upsert('escaped', { params: { state: '\\u0000' } } as never, 60);
    assert.deepEqual(await adapter.find('escaped'), { params: { state: '\\u0000' } });
    assert.deepEqual((await t.query<{ id: string }>('SELECT id FROM "OidcModel" WHERE model = $1', ['Interaction'])).map((r) => r.id), ['escaped']);
  });
});

/**
 * Beyond the reference: MemoryAdapter lets a second consume through, ours refuses it, so
 * that of two requests holding the same code or refresh token only one can use it
 * (token-policy.ts turns the refusal into invalid_grant and a revoked grant).
 */
describe('OidcModelAdapter consume', () => {
  let t: TestDatabase;
  let pdb: Db;
  before(async () => {
    t = await createTestDatabase();
    await migrate(t.url, testLog);
    pdb = createDb(t.url, 10);
  });
  after(async () => {
    await pdb.$disconnect();
    await t.drop();
  });

  it('when several consumes of one row run at once, then exactly one succeeds and the others throw ConsumeRaceLostError', async () => {
    const adapter = createOidcAdapter(pdb)('RefreshToken');
    for (let round = 0; round < 20; round++) {
      await adapter.upsert(`rt-${round}`, { grantId: 'g' } as never, 60);
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => adapter.consume(`rt-${round}`)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}`);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof ConsumeRaceLostError, String(r.reason));
    }
  });

  it('when a consumed or missing row is consumed, then it throws ConsumeRaceLostError and the first consume time stays', async () => {
    const adapter = createOidcAdapter(pdb)('AuthorizationCode');
    await adapter.upsert('code', { grantId: 'g' } as never, 60);
    await adapter.consume('code');
    // Moved back in time so that an overwrite by the second consume would show.
    await t.query(`UPDATE "OidcModel" SET "consumedAt" = "consumedAt" - interval '5 seconds' WHERE id = 'code'`);
    const consumedAt = (await adapter.find('code') as { consumed: number }).consumed;
    await assert.rejects(adapter.consume('code'), ConsumeRaceLostError);
    assert.equal((await adapter.find('code') as { consumed: number }).consumed, consumedAt);
    await assert.rejects(adapter.consume('never-stored'), ConsumeRaceLostError);
  });
});

describe('OidcModelAdapter rows already read', () => {
  let t: TestDatabase;
  let pdb: Db;
  before(async () => {
    t = await createTestDatabase();
    await migrate(t.url, testLog);
    pdb = createDb(t.url, 10);
  });
  after(async () => {
    await pdb.$disconnect();
    await t.drop();
  });

  it('when a row read along by another statement is handed over, then the next find of that row takes it once, and later finds read the table', async () => {
    const read = new RowsAlreadyRead();
    const adapter = createOidcAdapter(pdb, read)('Interaction');
    await adapter.upsert('uid-1', { kind: 'Interaction', params: { v: 'stored' } } as never, 60);
    read.put('Interaction', 'uid-1', { kind: 'Interaction', params: { v: 'read along' } } as never);
    // The handed-over row only for that model and id.
    assert.equal(await createOidcAdapter(pdb, read)('Session').find('uid-1'), undefined);
    assert.deepEqual(await adapter.find('uid-1'), { kind: 'Interaction', params: { v: 'read along' } });
    assert.deepEqual(await adapter.find('uid-1'), { kind: 'Interaction', params: { v: 'stored' } }, 'taken once: then the table');
  });

  it('when a handed-over row is not taken within a second, then it is stale and the table answers', async () => {
    const read = new RowsAlreadyRead();
    const adapter = createOidcAdapter(pdb, read)('Interaction');
    await adapter.upsert('uid-2', { kind: 'Interaction', params: { v: 'stored' } } as never, 60);
    read.put('Interaction', 'uid-2', { kind: 'Interaction', params: { v: 'read along' } } as never);
    await new Promise((r) => setTimeout(r, RowsAlreadyRead.FRESH_MS + 50));
    assert.deepEqual(await adapter.find('uid-2'), { kind: 'Interaction', params: { v: 'stored' } });
  });
});
