import { PrismaPg } from '@prisma/adapter-pg';
import type { PoolConfig } from 'pg';
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

export function createDb(databaseUrl: string, poolSize = 10): Db {
  const { pool, schema } = connectionConfig(databaseUrl);
  const adapter = new PrismaPg({ ...pool, max: poolSize }, schema ? { schema } : undefined);
  return new PrismaClient({ adapter });
}
