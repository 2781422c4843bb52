import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { lchown, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import * as tar from 'tar';
import type { Config } from '../config/load.ts';
import { passwordFile, postgresUser, resolveEmbeddedDataDir, type Owner } from '../db/embedded.ts';

/**
 * `doorman backup <file>` and `doorman restore <file>` for the embedded PostgreSQL: a copy
 * of its data folder and password file, taken while it is stopped (PostgreSQL's "file system
 * level backup"; the embedded package ships no pg_dump). A server database (DATABASE_URL)
 * is backed up with its own pg_dump/pg_restore, as the README says.
 */
export const BACKUP_USAGE = `usage: doorman backup <file.tar.gz>    copy the stopped embedded database into <file>
       doorman restore <file.tar.gz>   restore it into database.embeddedDataDir (which must not exist yet)`;

const MANIFEST = 'doorman-backup.json';
/** Fixed names inside the archive, so a backup restores into any data folder. */
const DATA = 'postgres';
const PASSWORD = 'postgres.password';

export class BackupError extends Error {
  override name = 'BackupError';
}

export async function runBackupCommand(command: 'backup' | 'restore', args: string[], config: Config, out: (line: string) => void): Promise<number> {
  const [file] = args;
  if (!file || args.length > 1) {
    process.stderr.write(`${BACKUP_USAGE}\n`);
    return 2;
  }
  if (config.databaseUrl) {
    throw new BackupError('DATABASE_URL is set: back up a server database with pg_dump -Fc and restore it with pg_restore (README "Backups and upgrades")');
  }
  if (command === 'backup') {
    const from = await backupEmbedded(config.database.embeddedDataDir, file);
    out(`backed up ${from} to ${resolve(file)}`);
  } else {
    const to = await restoreEmbedded(config.database.embeddedDataDir, file);
    out(`restored ${resolve(file)} into ${to}`);
  }
  return 0;
}

export async function backupEmbedded(embeddedDataDir: string, file: string): Promise<string> {
  const dataDir = resolveEmbeddedDataDir(embeddedDataDir);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) throw new BackupError(`no embedded database in ${dataDir} (database.embeddedDataDir)`);
  const pid = runningServer(dataDir);
  if (pid) throw new BackupError(`the embedded PostgreSQL is running on ${dataDir} (pid ${pid}): stop Doorman first; a copy of a running database's files is not a backup`);
  // The archive holds the manifest, then the data folder and password file under fixed
  // names: a staging folder links them under those names and tar follows the links.
  const target = resolve(file);
  const staging = join(dirname(target), `.doorman-backup-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  try {
    await writeFile(join(staging, MANIFEST), JSON.stringify({
      format: 1, postgresVersion: readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim(), dataDir, createdAt: new Date().toISOString(),
    }, null, 2));
    await symlink(dataDir, join(staging, DATA));
    await symlink(passwordFile(dataDir), join(staging, PASSWORD));
    await tar.create({ gzip: true, file: `${target}.partial`, cwd: staging, follow: true }, [MANIFEST, DATA, PASSWORD]);
    await rename(`${target}.partial`, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(`${target}.partial`, { force: true });
  }
  return dataDir;
}

export async function restoreEmbedded(embeddedDataDir: string, file: string): Promise<string> {
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dataDir = resolveEmbeddedDataDir(embeddedDataDir, owner);
  if (existsSync(dataDir) && readdirSync(dataDir).length) {
    throw new BackupError(`${dataDir} already holds a database: stop Doorman and move it away first (restore never overwrites data)`);
  }
  if (!existsSync(file)) throw new BackupError(`no backup file ${file}`);
  const staging = join(dirname(dataDir), `.doorman-restore-${randomBytes(4).toString('hex')}`);
  await mkdir(staging, { recursive: true });
  try {
    try {
      await tar.extract({ file, cwd: staging });
    } catch (err) {
      throw new BackupError(`${file} is not a Doorman backup (${(err as Error).message})`);
    }
    if (!existsSync(join(staging, DATA, 'PG_VERSION')) || !existsSync(join(staging, PASSWORD))) {
      throw new BackupError(`${file} is not a Doorman backup of the embedded database (no ${DATA}/PG_VERSION or ${PASSWORD} in it)`);
    }
    if (owner) await chownTree(join(staging, DATA), owner);
    await rm(dataDir, { recursive: true, force: true }); // empty, checked above
    await rename(join(staging, DATA), dataDir);
    await rename(join(staging, PASSWORD), passwordFile(dataDir));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return dataDir;
}

/** The pid in postmaster.pid when that process is alive (a stale file after a crash is not a server). */
function runningServer(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** As root, restored files belong to this machine's postgres user (its uid may differ from the backed-up machine's). */
async function chownTree(path: string, owner: Owner): Promise<void> {
  await lchown(path, owner.uid, owner.gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, owner);
    else await lchown(child, owner.uid, owner.gid);
  }
}
