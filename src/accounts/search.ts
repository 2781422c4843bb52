import type { Db } from '../db/client.ts';
import { Prisma } from '../generated/prisma/client.ts';
import { canonicalEmail, lowerAscii } from './email.ts';

/**
 * The admin search's one statement: the ids of a page of accounts, newest first, that
 * match `query` (see searchAccounts in ./admin.ts for what matches). Each way to match is
 * its own branch of a UNION so each uses its index: the primary key and the b-trees for
 * exact values, pg_trgm GIN indexes for any part of an email or name
 * (migration 20261122200100_account_search_trigrams); the page is then cut along
 * (createdAt, id). test/e2e/account-search-scale.test.ts checks the plans at a million accounts.
 */
export function accountSearchQuery(opts: { query?: string | undefined; limit: number; cursor?: string | undefined }): Prisma.Sql {
  const q = opts.query?.trim();
  const after = opts.cursor
    ? Prisma.sql`AND (a."createdAt", a."id") < (SELECT "createdAt", "id" FROM "Account" WHERE "id" = ${opts.cursor})`
    : Prisma.empty;
  if (!q) {
    return Prisma.sql`SELECT a."id" FROM "Account" a WHERE true ${after} ORDER BY a."createdAt" DESC, a."id" DESC LIMIT ${opts.limit}`;
  }
  const canonical = `%${escapeLike(canonicalEmail(q) ?? lowerAscii(q))}%`;
  const anyPart = `%${escapeLike(q)}%`;
  // A trigram index cannot narrow a part shorter than three characters (it would read every
  // entry): shorter queries match only an id, a subject or an upstream id.
  const parts = [...q].length >= 3 ? Prisma.sql`
      UNION SELECT "id" FROM "Account" WHERE "email" LIKE ${canonical}
      UNION SELECT "accountId" FROM "Identity" WHERE "emailCanonical" LIKE ${canonical}
      -- Exact characters (LIKE, not ILIKE): PostgreSQL's case folding is Unicode's, and would make a
      -- look-alike (KELVIN SIGN for K) find the real address; only ./email.ts decides what is equal.
      UNION SELECT "accountId" FROM "Identity" WHERE "email" LIKE ${anyPart}
      UNION SELECT "accountId" FROM "Identity" WHERE ("profile"->>'name') ILIKE ${anyPart}`
    : Prisma.empty;
  return Prisma.sql`
    WITH matches AS (
      SELECT "id" FROM "Account" WHERE "id" = ${q}
      UNION SELECT "accountId" FROM "Identity" WHERE "subject" = ${q}
      UNION SELECT "accountId" FROM "Identity" WHERE "provider" = ${q}
      ${parts}
    )
    SELECT a."id" FROM "Account" a JOIN matches m ON m."id" = a."id"
    WHERE true ${after}
    ORDER BY a."createdAt" DESC, a."id" DESC LIMIT ${opts.limit}`;
}

export async function searchAccountIds(db: Db, opts: { query?: string | undefined; limit: number; cursor?: string | undefined }): Promise<string[]> {
  return (await db.$queryRaw<{ id: string }[]>(accountSearchQuery(opts))).map((r) => r.id);
}

/** `%`, `_` and `\` typed by the admin are literal characters, not LIKE wildcards. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}
