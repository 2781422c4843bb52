import { recordAudit } from '../audit/record.ts';
import type { Db } from '../db/client.ts';
import { revokeGrantsOf } from '../oidc/adapter.ts';
import { deleteConsent, lockConsentScope, saveConsentScope, unionScope } from './repository.ts';

/**
 * Remembered consents: what a person allowed a third-party app, kept across sign-outs.
 * Each change is written in one transaction with its audit row.
 */

/** Adds `scope` to what `accountId` allowed `clientId` (a consent page was confirmed). */
export async function rememberConsent(db: Db, accountId: string, clientId: string, scope: string): Promise<void> {
  await db.$transaction(async (tx) => {
    const before = await lockConsentScope(tx, accountId, clientId);
    const after = unionScope(before, scope);
    const had = new Set((before ?? '').split(' '));
    const added = after.split(' ').filter((s) => !had.has(s)).join(' ');
    if (before !== undefined && !added) return;
    await saveConsentScope(tx, accountId, clientId, after, new Date());
    await recordAudit(tx, { type: 'consent.granted', accountId, clientId, scope: after, added });
  });
}

export type RevokeConsentOutcome = { kind: 'revoked'; revokedGrants: number } | { kind: 'not_found' };

/**
 * Forgets the consent and ends what it gave: the app's grants for this account with their
 * codes, access and refresh tokens (RFC 7009 §2.1: revoking a grant revokes its tokens).
 * The next sign-in through the app shows the consent page again.
 */
export async function revokeConsent(db: Db, accountId: string, clientId: string, actor?: string): Promise<RevokeConsentOutcome> {
  return db.$transaction(async (tx) => {
    const scope = await deleteConsent(tx, accountId, clientId);
    if (scope === undefined) return { kind: 'not_found' } as const;
    const revokedGrants = await revokeGrantsOf(tx, accountId, clientId);
    await recordAudit(tx, { type: 'consent.revoked', accountId, clientId, actor, scope, revokedGrants });
    return { kind: 'revoked', revokedGrants } as const;
  });
}
