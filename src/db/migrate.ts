import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import pg, { type QueryConfig } from 'pg';
import type { Logger } from '../log.ts';
import { connectionConfig } from './client.ts';

/**
 * Applies prisma/migrations/<name>/migration.sql in name order and records each in
 * `_prisma_migrations` exactly as `prisma migrate deploy` would, so either tool can take
 * over a database later. Why not Prisma's own: its migration engine is a native binary
 * that air-gapped sites cannot download.
 */

/** Prisma's own advisory lock key, so Doorman and `prisma migrate` also exclude each other. */
const PRISMA_ADVISORY_LOCK = 72707369;
const MIGRATIONS_DIR = new URL('../../prisma/migrations/', import.meta.url);

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export interface MigrationFile { name: string; sql: string; checksum: string }

/** The names of the migrations this build ships, in order (for /readyz: no file is read). */
export async function readMigrationNames(dir: URL = MIGRATIONS_DIR): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

export async function readMigrations(dir: URL = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = await readMigrationNames(dir);
  return Promise.all(names.map(async (name) => {
    const sql = await readFile(new URL(`${name}/migration.sql`, dir), 'utf8');
    return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  }));
}

/** Returns the names of the migrations it applied (empty when the database was current). */
export async function migrate(databaseUrl: string, log: Logger, migrations?: MigrationFile[]): Promise<string[]> {
  const files = migrations ?? await readMigrations();
  const { pool, schema } = connectionConfig(databaseUrl);
  const client = new pg.Client(pool);
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema.replaceAll('"', '""')}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"');
    const applied = new Map(rows.filter((r) => !r.rolled_back_at).map((r) => [r.migration_name, r]));
    const done: string[] = [];
    for (const file of files) {
      const row = applied.get(file.name);
      if (row?.finished_at) {
        if (row.checksum !== file.checksum) log.warn('migration was modified after it was applied', { migration: file.name });
        continue;
      }
      if (row) {
        throw new MigrationError(`migration ${file.name} failed earlier and is not rolled back; fix the database, mark the row in _prisma_migrations rolled back, then retry`);
      }
      await applyOne(client, file);
      log.info('applied migration', { migration: file.name });
      done.push(file.name);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]).catch(() => {});
    await client.end();
  }
}

async function applyOne(client: pg.Client, file: MigrationFile): Promise<void> {
  const id = randomUUID();
  await client.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
    [id, file.checksum, file.name]);
  try {
    // One transaction per migration: Postgres DDL is transactional, so a failure leaves nothing half-applied.
    await client.query('BEGIN');
    await client.query(file.sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    await client.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, String((err as Error).message)]);
    throw new MigrationError(`migration ${file.name} failed: ${(err as Error).message}`);
  }
  await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
}

/**
 * Names of the migration files not (or not successfully) applied to the database behind
 * `pool`: all of them when `_prisma_migrations` does not exist yet. For /readyz.
 */
export async function findPendingMigrations(pool: pg.Pool, names: readonly string[], timeoutMs: number): Promise<string[]> {
  try {
    // query_timeout: read by pg's Client.query, missing from @types/pg's QueryConfig.
    const { rows } = await pool.query<{ migration_name: string }>({
      text: 'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
      query_timeout: timeoutMs,
    } as QueryConfig);
    const applied = new Set(rows.map((r) => r.migration_name));
    return names.filter((name) => !applied.has(name));
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return [...names]; // undefined_table: never migrated
    throw err;
  }
}
