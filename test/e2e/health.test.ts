import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-postgres.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

async function probe(base: string, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

describe('when a load balancer probes a Doorman whose database is up and migrated', () => {
  let s: Scenario;
  const lines: { msg: string; route?: string; path?: string }[] = [];
  before(async () => { s = await startScenario({ log: createLogger('info', (l) => lines.push(JSON.parse(l))) }); });
  after(() => s?.close());

  it('then /healthz and /readyz answer 200, and neither is access-logged', async () => {
    lines.length = 0;
    assert.deepEqual(await probe(s.doorman.url, '/healthz'), { status: 200, body: { status: 'ok' } });
    const ready = await probe(s.doorman.url, '/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(ready.body.checks, { database: 'ok', migrations: 'ok', keys: 'ok' });
    assert.deepEqual(lines.filter((l) => l.msg === 'request'), [], JSON.stringify(lines));
  });

  it('then a migration missing from _prisma_migrations makes /readyz 503 with its name', async () => {
    const [latest] = await s.db.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name DESC LIMIT 1');
    await s.db.query('UPDATE "_prisma_migrations" SET finished_at = NULL WHERE migration_name = $1', [latest!.migration_name]);
    try {
      const pending = await probe(s.doorman.url, '/readyz');
      assert.equal(pending.status, 503);
      assert.equal(pending.body.reason, `migrations pending: ${latest!.migration_name}`);
      assert.equal((await probe(s.doorman.url, '/healthz')).status, 200, 'liveness does not depend on the database');
    } finally {
      await s.db.query('UPDATE "_prisma_migrations" SET finished_at = now() WHERE migration_name = $1', [latest!.migration_name]);
    }
    assert.equal((await probe(s.doorman.url, '/readyz')).status, 200);
  });
});

/** Doorman on a PostgreSQL of its own (as database-outage.test.ts), so the test can stop it. */
describe('when the database of a running Doorman stops', () => {
  let pg: OwnPostgres;
  let s: Scenario;

  before(async () => {
    pg = await startOwnPostgres('doorman-health-');
    s = await startScenario({ databaseUrl: pg.url });
  });
  after(async () => {
    await s?.close();
    await pg?.close();
  });

  it('then /readyz answers 503 "database unreachable" while /healthz stays 200, and it is ready again once the database is back', async () => {
    assert.equal((await probe(s.doorman.url, '/readyz')).status, 200);
    await pg.stop();
    const down = await probe(s.doorman.url, '/readyz');
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'unavailable');
    assert.equal(down.body.reason, 'database unreachable');
    assert.deepEqual(down.body.checks, { database: 'failed', migrations: 'not checked', keys: 'ok' });
    assert.doesNotMatch(JSON.stringify(down.body), /127\.0\.0\.1|doorman:|ECONNREFUSED/, 'no connection details in a public answer');
    assert.deepEqual(await probe(s.doorman.url, '/healthz'), { status: 200, body: { status: 'ok' } });

    await pg.start();
    assert.equal((await probe(s.doorman.url, '/readyz')).status, 200);
  });
});
