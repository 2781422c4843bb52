import type { Prisma } from '../generated/prisma/client.ts';

/** Every kind of event the audit log holds. */
export type AuditEventInput =
  | { type: 'account.created'; accountId: string; provider: string; subject: string; clientId?: string }
  | { type: 'login'; accountId: string; provider: string; subject: string; clientId?: string }
  | { type: 'login.refused'; accountId?: string; provider: string; subject?: string; clientId?: string; reason: string };

/** Writes one audit row inside the caller's transaction, so it lands with the change it describes. */
export async function recordAudit(tx: Prisma.TransactionClient, event: AuditEventInput): Promise<void> {
  const { type, accountId, provider, subject, clientId, ...detail } = event;
  await tx.auditEvent.create({
    data: {
      type,
      accountId: accountId ?? null,
      provider,
      subject: subject ?? null,
      clientId: clientId ?? null,
      detail: detail as Prisma.InputJsonObject,
    },
  });
}
