import type { Prisma } from '../generated/prisma/client.ts';

/**
 * Every kind of event the audit log holds. Decisions about linking carry their reason, so
 * the log says why an account was or was not reached.
 */
export type AuditEventInput = { actor?: string; clientId?: string } & (
  | { type: 'account.created'; accountId: string; provider: string; subject: string }
  | { type: 'login'; accountId: string; provider: string; subject: string }
  | { type: 'login.refused'; accountId?: string; provider: string; subject?: string; reason: string }
  | { type: 'link.offered'; accountId?: undefined; provider: string; subject: string; reason: string; candidates: string[] }
  | { type: 'link.refused'; accountId?: string; provider: string; subject: string; reason: string; candidates?: string[] }
  | { type: 'identity.linked'; accountId: string; provider: string; subject: string; how: 'auto' | 'proved' | 'self-service' | 'admin'; reason?: string; provedWith?: string; from?: string }
  | { type: 'identity.unlinked'; accountId: string; provider: string; subject: string }
  | { type: 'account.email'; accountId: string; provider?: string; subject?: string; email: string; previous: string | null; how: 'adopted' | 'self-service' | 'admin' | 'reconciled' }
  /** A verified address arrived that other accounts only claimed (unverified): she got her own account; an admin may look. */
  | { type: 'email.collision'; accountId: string; provider: string; subject: string; reason: 'unverified_elsewhere'; unverifiedHolders: string[] }
  | { type: 'account.merged'; accountId: string; provider?: undefined; subject?: undefined; retired: string; movedIdentities: number }
  | { type: 'account.retired'; accountId: string; provider?: undefined; subject?: undefined; mergedInto: string }
  | { type: 'account.disabled' | 'account.enabled' | 'admin.granted' | 'admin.revoked'; accountId: string; provider?: undefined; subject?: undefined; revoked?: number }
  | { type: 'consent.granted'; accountId: string; clientId: string; provider?: undefined; subject?: undefined; scope: string; added: string }
  /** An admin ended one session, one grant (refresh token and what it issued), or all of them. */
  | { type: 'session.revoked' | 'grant.revoked' | 'account.signed-out'; accountId: string; provider?: undefined; subject?: undefined; revoked: number }
  /** An app exchanged a Doorman access token for the person's upstream access token (src/token-vault). */
  | { type: 'token.exchanged'; accountId: string; clientId: string; provider: string; subject: string; scope: string; refreshed: boolean }
  /** The upstream refused to refresh the stored tokens, so they were deleted. */
  | { type: 'upstream-tokens.dropped'; accountId: string; provider: string; subject: string; reason: string }
  /** A key rotation someone asked for (`doorman keys rotate`, the console); scheduled rotations are only logged. */
  | { type: 'keys.rotated'; accountId?: undefined; provider?: undefined; subject?: undefined; signingKid: string; previousSigningKid: string | null }
  | { type: 'key.retired'; accountId?: undefined; provider?: undefined; subject?: undefined; keyId: string; kind: 'signing' | 'cookie'; was: string }
  | { type: 'consent.revoked'; accountId: string; clientId: string; provider?: undefined; subject?: undefined; scope: string; revokedGrants: number }
  /** An app managed at runtime (src/clients): which settings changed and to what (`set`), never a secret. */
  | { type: 'client.created' | 'client.updated'; accountId?: undefined; clientId: string; provider?: undefined; subject?: undefined; changed: string[]; set: Record<string, unknown> }
  | { type: 'client.secret-rotated'; accountId?: undefined; clientId: string; provider?: undefined; subject?: undefined }
  | { type: 'client.deleted'; accountId?: undefined; clientId: string; provider?: undefined; subject?: undefined; revoked: number }
);

/** Writes one audit row inside the caller's transaction, so it lands with the change it describes. */
export async function recordAudit(tx: Prisma.TransactionClient, event: AuditEventInput): Promise<void> {
  const { type, accountId, provider, subject, clientId, actor, ...detail } = event;
  await tx.auditEvent.create({
    data: {
      type,
      actor: actor ?? null,
      accountId: accountId ?? null,
      provider: provider ?? null,
      subject: subject ?? null,
      clientId: clientId ?? null,
      detail: detail as Prisma.InputJsonObject,
    },
  });
}
