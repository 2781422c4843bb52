import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { testLog } from '../helpers/start-doorman.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/** `doorman backup` / `doorman restore` as an operator runs them, on real embedded databases. */
describe('backing up and restoring the embedded database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'doorman-backup-'));
  chmodSync(dir, 0o755); // run as root, the embedded PostgreSQL's user must reach the data folders
  after(() => rmSync(dir, { recursive: true, force: true }));

  function doorman(name: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const config = join(dir, `${name}.yaml`);
    writeFileSync(config, `database:\n  embeddedDataDir: ${join(dir, name)}\n`);
    return new Promise((ok) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/cli/doorman.ts', ...args], {
        cwd: ROOT, env: { PATH: process.env.PATH, DOORMAN_CONFIG: config },
      }, (err, stdout, stderr) => ok({ code: err ? (err.code as number) : 0, stdout, stderr }));
    });
  }

  async function query(dataDir: string, sql: string): Promise<unknown[]> {
    const embedded = await startEmbeddedPostgres(dataDir, testLog);
    try {
      const client = new pg.Client({ connectionString: embedded.url });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    } finally {
      await embedded.stop();
    }
  }

  it('backs up a stopped database and restores it into a fresh data folder, data and password included', async () => {
    await query(join(dir, 'source'), "CREATE TABLE probe (note text); INSERT INTO probe VALUES ('kept across backup')");
    const file = join(dir, 'source.tar.gz');
    const backup = await doorman('source', 'backup', file);
    assert.equal(backup.code, 0, backup.stderr);
    assert.ok(existsSync(file));

    const restore = await doorman('copy', 'restore', file);
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, /restored .* into .*copy/);
    assert.deepEqual(await query(join(dir, 'copy'), 'SELECT note FROM probe'), [{ note: 'kept across backup' }]);
  });

  it('refuses to back up a running database, and to restore over existing data', async () => {
    const embedded = await startEmbeddedPostgres(join(dir, 'busy'), testLog);
    try {
      const busy = await doorman('busy', 'backup', join(dir, 'busy.tar.gz'));
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /^doorman: the embedded PostgreSQL is running on .*: stop Doorman first/m);
      assert.equal(existsSync(join(dir, 'busy.tar.gz')), false);
    } finally {
      await embedded.stop();
    }
    assert.equal((await doorman('busy', 'backup', join(dir, 'busy.tar.gz'))).code, 0);
    const over = await doorman('busy', 'restore', join(dir, 'busy.tar.gz'));
    assert.equal(over.code, 1);
    assert.match(over.stderr, /already holds a database: stop Doorman and move it away first/);
  });

  it('refuses a file that is not a backup, leaving no data folder behind', async () => {
    writeFileSync(join(dir, 'junk.tar.gz'), 'not an archive');
    const junk = await doorman('fromjunk', 'restore', join(dir, 'junk.tar.gz'));
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /is not a Doorman backup/);
    assert.equal(existsSync(join(dir, 'fromjunk')), false);
  });
});
