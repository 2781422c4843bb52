import assert from 'node:assert/strict';
import { after, before, beforeEach, it } from 'node:test';
import { createDb, type Db } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';
import { claimDueLogouts, forgetLogout, queueLogouts } from '../../src/logout/repository.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

/** The back-channel logout queue under several processes and crashes (src/logout/repository.ts). */
let testDb: TestDatabase;
let db: Db;
let other: Db;
before(async () => {
  testDb = await createTestDatabase();
  await migrate(testDb.url, testLog);
  db = createDb(testDb.url, 4);
  other = createDb(testDb.url, 4);
});
after(async () => {
  await Promise.all([db.$disconnect(), other.$disconnect()]);
  await testDb.drop();
});
beforeEach(() => db.backchannelLogout.deleteMany());

const logouts = (n: number) => Array.from({ length: n }, (_, i) => ({ clientId: 'wiki', accountId: `a${i}`, sid: `s${i}` }));

it('when two processes claim at once, then each logout goes to exactly one of them', async () => {
  await queueLogouts(db, logouts(30));
  const claims = await Promise.all([db, other, db, other].map((d) => claimDueLogouts(d, 10, 1000, 1000, 60_000)));
  const ids = claims.flat().map((c) => c.id);
  assert.equal(ids.length, 30);
  assert.equal(new Set(ids).size, 30, 'no logout claimed twice');
});

it('when the process that claimed a logout dies mid-delivery, then it is due again after the time limit plus the back-off, not before', async () => {
  await queueLogouts(db, logouts(1));
  const claimedAt = Date.now();
  const [first] = await claimDueLogouts(db, 10, 300, 200, 60_000);
  assert.equal(first!.attempts, 1);
  assert.deepEqual(await claimDueLogouts(other, 10, 300, 200, 60_000), [], 'not while the attempt may still be running');
  const due = (await db.backchannelLogout.findFirstOrThrow()).nextAttemptAt.getTime() - claimedAt;
  assert.ok(due >= 400 && due <= 700, `due again in ${due} ms, expected the 300 ms limit + 200 ms back-off`);
  // That time passes (the row's clock moved instead of sleeping).
  await db.backchannelLogout.updateMany({ data: { nextAttemptAt: new Date(Date.now() - 1000) } });
  const [again] = await claimDueLogouts(other, 10, 300, 200, 60_000);
  assert.equal(again!.id, first!.id);
  assert.equal(again!.attempts, 2);
});

it('when attempts fail, then each wait doubles up to the cap', async () => {
  await queueLogouts(db, logouts(1));
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    await db.backchannelLogout.updateMany({ data: { nextAttemptAt: new Date(0) } });
    const before = Date.now();
    await claimDueLogouts(db, 1, 0, 1000, 5000);
    const row = await db.backchannelLogout.findFirstOrThrow();
    waits.push(Math.round((row.nextAttemptAt.getTime() - before) / 1000));
  }
  assert.deepEqual(waits, [1, 2, 4, 5, 5]);
});

it('when a logout is forgotten, then no process gets it again', async () => {
  await queueLogouts(db, logouts(1));
  const [claimed] = await claimDueLogouts(db, 10, 0, 0, 0);
  await forgetLogout(db, claimed!.id);
  assert.equal(await db.backchannelLogout.count(), 0);
});
