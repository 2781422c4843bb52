import { randomBytes } from 'node:crypto';
import type { Db } from '../db/client.ts';

/**
 * The pairwise salt, made by the first process that asks. ON CONFLICT: two processes
 * starting together both insert, one row survives, and both read that one.
 */
export async function readPairwiseSalt(db: Db): Promise<string> {
  const candidate = randomBytes(32).toString('base64url');
  await db.$executeRaw`INSERT INTO "PairwiseSalt" ("id", "salt") VALUES (1, ${candidate}) ON CONFLICT ("id") DO NOTHING`;
  const row = await db.pairwiseSalt.findUniqueOrThrow({ where: { id: 1 } });
  return row.salt;
}
