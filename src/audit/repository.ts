import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../db/client.ts';
import type { AuditFilter } from './filter.ts';

/** Prisma access for reading the audit log (writes: ./record.ts). */

export interface AuditRow { id: string; createdAt: Date; type: string; actor: string | null; accountId: string | null; provider: string | null; subject: string | null; clientId: string | null; detail: unknown }

function whereOf(f: Omit<AuditFilter, 'limit' | 'cursor'>): Prisma.AuditEventWhereInput {
  return {
    ...(f.from || f.to ? { createdAt: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {}),
    ...(f.type ? { type: f.type } : {}),
    ...(f.provider ? { provider: f.provider } : {}),
    ...(f.clientId ? { clientId: f.clientId } : {}),
    ...(f.accountId ? { accountId: f.accountId } : {}),
    // Refusals and link offers say why in detail.reason (audit/record.ts).
    ...(f.reason ? { detail: { path: ['reason'], equals: f.reason } } : {}),
  };
}

/**
 * Audit events matching the filter, newest first, paged by id cursor. Events that belong
 * to no account (refusals by policy, link offers, sign-up refusals) are included unless
 * the filter names an account. Served by the (createdAt) and (type, createdAt) indexes.
 */
export async function queryAudit(db: Db, filter: AuditFilter): Promise<{ events: AuditRow[]; nextCursor: string | null }> {
  const rows = await db.auditEvent.findMany({
    where: whereOf(filter),
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: filter.limit + 1,
    ...(filter.cursor ? { cursor: { id: filter.cursor }, skip: 1 } : {}),
    select: { id: true, createdAt: true, type: true, actor: true, accountId: true, provider: true, subject: true, clientId: true, detail: true },
  });
  const events = rows.slice(0, filter.limit);
  return { events, nextCursor: rows.length > filter.limit ? events[events.length - 1]!.id : null };
}
