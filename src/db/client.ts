import { PrismaPg } from '@prisma/adapter-pg';
import pg, { type PoolConfig } from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export type Db = PrismaClient;

/**
 * node-postgres settings for a Prisma-style URL. Prisma puts the schema in a `schema`
 * query parameter, which Postgres itself would reject as an unknown startup parameter,
 * so it is lifted out and applied as the search_path.
 */
export function connectionConfig(databaseUrl: string): { pool: PoolConfig; schema: string | undefined } {
  const url = new URL(databaseUrl);
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  const pool: PoolConfig = { connectionString: url.toString() };
  if (schema) pool.options = `-c search_path="${schema.replaceAll('"', '""')}"`;
  return { pool, schema };
}

const pools = new WeakMap<Db, pg.Pool>();

/**
 * Prisma on a node-postgres pool of at most `poolSize` connections. `statementTimeoutMs`
 * (0 = none) is sent as each connection's statement_timeout, so the server itself cancels
 * a statement stuck behind a lock or an overloaded disk (SQLSTATE 57014).
 */
export function createDb(databaseUrl: string, poolSize = 10, statementTimeoutMs = 0): Db {
  const { pool, schema } = connectionConfig(databaseUrl);
  const pgPool = new pg.Pool({ ...pool, max: poolSize, ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}) });
  // The pool is ours so that the few users of plain SQL (rate limits) share its
  // connections; $disconnect still ends it.
  const adapter = new PrismaPg(pgPool, { ...(schema ? { schema } : {}), disposeExternalPool: true });
  const db = new PrismaClient({ adapter });
  pools.set(db, pgPool);
  return db;
}

/** The node-postgres pool under `db` (search_path already set to its schema). */
export function poolOf(db: Db): pg.Pool {
  const pool = pools.get(db);
  if (!pool) throw new Error('not a Db made by createDb');
  return pool;
}
