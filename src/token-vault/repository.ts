import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../db/client.ts';

/** Prisma access for stored upstream tokens; no rules live here. */
type Tx = Prisma.TransactionClient;

export interface SealedRow { identityId: string; keyId: string; sealed: string; scope: string; accessExpiresAt: Date | null }

export async function saveSealedTokens(db: Db | Tx, row: SealedRow): Promise<void> {
  const data = { keyId: row.keyId, sealed: row.sealed, scope: row.scope, accessExpiresAt: row.accessExpiresAt, updatedAt: new Date() };
  await db.upstreamToken.upsert({ where: { identityId: row.identityId }, create: { identityId: row.identityId, ...data }, update: data });
}

/**
 * The row, locked until the caller's transaction ends: a second exchange on any process
 * waits here while the first refreshes, then reads what it wrote (one refresh, and never
 * a refresh token the upstream already rotated away).
 */
export async function lockSealedTokens(tx: Tx, identityId: string): Promise<SealedRow | undefined> {
  const rows = await tx.$queryRaw<SealedRow[]>`
    SELECT "identityId", "keyId", "sealed", "scope", "accessExpiresAt" FROM "UpstreamToken" WHERE "identityId" = ${identityId} FOR UPDATE`;
  return rows[0];
}

export async function deleteSealedTokens(db: Db | Tx, identityId: string): Promise<void> {
  await db.upstreamToken.deleteMany({ where: { identityId } });
}

/** Disabling or merging an account: every identity's tokens go (the identities themselves may stay or move). */
export async function deleteSealedTokensOfAccount(tx: Tx, accountId: string): Promise<number> {
  const { count } = await tx.upstreamToken.deleteMany({ where: { identity: { accountId } } });
  return count;
}

/** The identity of `provider` on the account whose tokens an exchange uses: the one signed in with last. */
export function findTokenIdentity(db: Db, accountId: string, provider: string) {
  return db.identity.findFirst({
    where: { accountId, provider, upstreamToken: { isNot: null } },
    orderBy: [{ lastLoginAt: { sort: 'desc', nulls: 'last' } }, { createdAt: 'desc' }],
    select: { id: true, subject: true },
  });
}

/** Every identity of `provider` on the account that has tokens stored (a sign-out forgets them all). */
export function findTokenIdentities(db: Db, accountId: string, provider: string) {
  return db.identity.findMany({ where: { accountId, provider, upstreamToken: { isNot: null } }, select: { id: true, subject: true } });
}

export function findIdentityId(db: Db, provider: string, subject: string) {
  return db.identity.findUnique({ where: { provider_subject: { provider, subject } }, select: { id: true, accountId: true } });
}

/** Identity ids of rows sealed with another key than `keyId` (re-encryption). */
export async function listRowsNotSealedWith(db: Db, keyId: string, limit: number): Promise<string[]> {
  const rows = await db.upstreamToken.findMany({ where: { keyId: { not: keyId } }, select: { identityId: true }, take: limit });
  return rows.map((r) => r.identityId);
}
