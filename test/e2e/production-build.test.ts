import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../src/free-port.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { execForm, parseDockerfile } from '../helpers/dockerfile.ts';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * The Dockerfile's runtime stage, reproduced without Docker (there is no engine here): its
 * COPY and `npm ci` steps are replayed in a temporary folder from the Dockerfile itself,
 * with dist/ compiled as the build stage does, then its CMD is started against PostgreSQL.
 */
describe('the production build (the Dockerfile\'s steps, outside Docker)', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'doorman-prod-'));
  const app = join(dir, 'app');
  const built = join(dir, 'build-dist');
  const env: Record<string, string> = {};
  let cmd: string[] = [];
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
    mkdirSync(app);
    // The build stage's `npm run build`, written to a folder of its own.
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', built], { cwd: ROOT });
    // ... which also copies the one asset that lives beside the code (package.json "build").
    const buildScript = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build!;
    assert.match(buildScript, /src\/admin\/openapi\.yaml','dist\/admin\/openapi\.yaml/);
    cpSync(join(ROOT, 'src/admin/openapi.yaml'), join(built, 'admin/openapi.yaml'));
    for (const { keyword, args } of parseDockerfile(join(ROOT, 'Dockerfile')).at(-1)!.instructions) {
      if (keyword === 'COPY') {
        const parts = args.split(/\s+/);
        const fromBuild = parts.some((p) => p === '--from=build');
        const [dest = '', ...sources] = parts.filter((p) => !p.startsWith('--')).reverse();
        for (const source of sources) {
          const from = fromBuild ? built : join(ROOT, source);
          cpSync(from, dest.endsWith('/') ? join(app, dest, basename(source)) : join(app, dest), { recursive: true });
        }
      } else if (keyword === 'ENV') {
        const [name = '', value = ''] = args.split('=');
        env[name] = value;
      } else if (keyword === 'RUN' && /^npm ci\b/.test(args)) {
        // Only the install itself (not the cache clean: the cache is this machine's); offline
        // when the cache has everything, as it does after the checkout's own `npm ci`.
        const install = args.split('&&')[0]!.trim().split(/\s+/).slice(1);
        await run('npm', [...install, '--prefer-offline'], { cwd: app, env: { ...process.env, ...env } });
      } else if (keyword === 'CMD') {
        cmd = execForm(args);
      }
      // apt-get (tini), mkdir/chown and USER concern the container only.
    }
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('installs without TypeScript, tsx or the Prisma CLI, and runs from plain JavaScript', async () => {
    assert.deepEqual(cmd, ['node', 'dist/main.js']);
    for (const devOnly of ['typescript', 'tsx', 'prisma', 'esbuild']) {
      assert.equal(existsSync(join(app, 'node_modules', devOnly)), false, `${devOnly} is not installed`);
    }
    assert.equal(existsSync(join(app, 'src')), false);
    assert.ok(existsSync(join(app, 'dist/generated/prisma/client.js')), 'the generated Prisma client is compiled in');
  });

  it('starts with `node dist/main.js`: migrates, answers /healthz and discovery, and stops on SIGTERM', async () => {
    const port = await freePort();
    const issuer = 'https://login.example.test';
    const child = spawn(process.execPath, cmd.slice(1), {
      cwd: app,
      env: { PATH: process.env.PATH, ...env, DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1', DOORMAN_ISSUER: issuer },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { log += d; });
    try {
      await new Promise<void>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no "listening" in 60 s:\n${log}`)), 60_000);
        child.stderr.on('data', () => { if (log.includes('doorman started')) { clearTimeout(timer); ok(); } });
        child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`exited ${code}:\n${log}`)); });
      });
      assert.match(log, /applied migration/);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json() as { issuer: string };
      assert.equal(discovery.issuer, issuer);
      const page = await fetch(`http://127.0.0.1:${port}/interaction/nope`);
      assert.match(await page.text(), /<html/i, 'views resolve from dist');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = child.exitCode === null ? await once(child, 'exit') : [child.exitCode];
    assert.equal(code, 0, log);
  });

  it('runs the compiled CLI: `node dist/cli/doorman.js migrate`', async () => {
    const { stdout } = await run(process.execPath, ['dist/cli/doorman.js', 'migrate'], {
      cwd: app, env: { PATH: process.env.PATH, ...env, DATABASE_URL: db.url, DOORMAN_ISSUER: 'https://login.example.test' },
    });
    assert.match(stdout, /database is up to date|applied/);
  });
});
