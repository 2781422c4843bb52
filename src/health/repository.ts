import type { Pool, QueryConfig } from 'pg';

/** One round trip through the app's own pool: a connection can be had and the server answers. */
export async function pingDatabase(pool: Pool, timeoutMs: number): Promise<void> {
  // query_timeout: read by pg's Client.query, missing from @types/pg's QueryConfig.
  await pool.query({ text: 'SELECT 1', query_timeout: timeoutMs } as QueryConfig);
}
