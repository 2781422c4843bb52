import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../db/client.ts';

/** Prisma access for remembered consents (one row per account and app); no rules live here. */
type Tx = Prisma.TransactionClient;

export interface RememberedConsent { clientId: string; scope: string; createdAt: Date; updatedAt: Date }

/** The scopes `accountId` allowed `clientId`, or undefined when it never did (or revoked it). */
export async function findConsentScope(db: Db | Tx, accountId: string, clientId: string): Promise<string | undefined> {
  const row = await db.consent.findUnique({ where: { accountId_clientId: { accountId, clientId } }, select: { scope: true } });
  return row?.scope;
}

export function listConsents(db: Db, accountId: string): Promise<RememberedConsent[]> {
  return db.consent.findMany({ where: { accountId }, orderBy: { createdAt: 'asc' }, select: { clientId: true, scope: true, createdAt: true, updatedAt: true } });
}

/** Locks the row (if any) for the rest of the transaction, so two consents at once both count. */
export async function lockConsentScope(tx: Tx, accountId: string, clientId: string): Promise<string | undefined> {
  const [row] = await tx.$queryRaw<{ scope: string }[]>`SELECT scope FROM "Consent" WHERE "accountId" = ${accountId} AND "clientId" = ${clientId} FOR UPDATE`;
  return row?.scope;
}

export async function saveConsentScope(tx: Tx, accountId: string, clientId: string, scope: string, now: Date): Promise<void> {
  await tx.consent.upsert({
    where: { accountId_clientId: { accountId, clientId } },
    create: { accountId, clientId, scope, createdAt: now, updatedAt: now },
    update: { scope, updatedAt: now },
  });
}

/** Deletes the remembered consent; resolves to its scope, or undefined when there was none. */
export async function deleteConsent(tx: Tx, accountId: string, clientId: string): Promise<string | undefined> {
  const [row] = await tx.$queryRaw<{ scope: string }[]>`DELETE FROM "Consent" WHERE "accountId" = ${accountId} AND "clientId" = ${clientId} RETURNING scope`;
  return row?.scope;
}

/** Merging accounts: the survivor keeps the union of both accounts' consents per app. */
export async function moveConsents(tx: Tx, from: string, to: string, now: Date): Promise<void> {
  const moving = await tx.consent.findMany({ where: { accountId: from } });
  for (const c of moving) {
    const kept = await lockConsentScope(tx, to, c.clientId);
    await saveConsentScope(tx, to, c.clientId, unionScope(kept, c.scope), now);
  }
  await tx.consent.deleteMany({ where: { accountId: from } });
}

/** Space-separated union, in first-seen order. */
export function unionScope(...scopes: (string | undefined)[]): string {
  return [...new Set(scopes.flatMap((s) => (s ?? '').split(' ')).filter(Boolean))].join(' ');
}
