import { createHash } from 'node:crypto';
import { poolOf, type Db } from '../db/client.ts';
import type { AdapterPayload } from 'oidc-provider';
import { storedColumns, storedPayload } from '../oidc/adapter.ts';
import type { JsonObject } from '../upstreams/connector.ts';

/** Why the browser was sent upstream, and what the callback must then do. */
export type UpstreamPurpose =
  | { purpose: 'login'; interactionUid: string }
  | { purpose: 'link-proof'; interactionUid: string; pendingLinkId: string }
  | { purpose: 'account-link'; accountId: string };

export type UpstreamTransaction = UpstreamPurpose & {
  connectorId: string;
  payload: JsonObject;
  /** The login's interaction as stored, read by the same statement (none when it is gone): oidc/adapter.ts RowsAlreadyRead. */
  interactionRow?: AdapterPayload | undefined;
};

/** Only a hash of `state` is stored: a database reader cannot forge a callback from it. */
function hashState(state: string): string {
  return createHash('sha256').update(state).digest('base64url');
}

// Both run on every login: on the pg pool under Prisma, as oidc/adapter.ts (times as UTC text).
export async function saveUpstreamTransaction(db: Db, state: string, tx: UpstreamTransaction, ttlSeconds: number): Promise<void> {
  await poolOf(db).query({
    name: 'upstream-transaction-save',
    text: `INSERT INTO "UpstreamTransaction" ("stateHash", purpose, "interactionUid", "pendingLinkId", "accountId", "connectorId", payload, "expiresAt")
      VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::timestamp)`,
    values: [hashState(state), tx.purpose, 'interactionUid' in tx ? tx.interactionUid : null, tx.purpose === 'link-proof' ? tx.pendingLinkId : null,
      tx.purpose === 'account-link' ? tx.accountId : null, tx.connectorId, JSON.stringify(tx.payload), new Date(Date.now() + ttlSeconds * 1000).toISOString()],
  });
}

/**
 * Removes and returns the transaction for `state`, so a callback works exactly once.
 * Undefined when there is none (never issued, already used) or it has expired. The same
 * statement reads the login's interaction (oidc-provider's row, as its adapter would), which
 * the callback reads next anyway.
 */
export async function takeUpstreamTransaction(db: Db, state: string): Promise<UpstreamTransaction | undefined> {
  // DELETE ... RETURNING: of two concurrent callbacks with one state, only one gets the row.
  const { rows: [row] } = await poolOf(db).query<{
    purpose: string; interactionUid: string | null; pendingLinkId: string | null; accountId: string | null; connectorId: string; payload: unknown; expired: boolean;
    interaction_payload: AdapterPayload | null; interaction_consumed: number | null;
  }>({
    name: 'upstream-transaction-take',
    text: `WITH taken AS (
        DELETE FROM "UpstreamTransaction" WHERE "stateHash" = $1
        RETURNING purpose, "interactionUid", "pendingLinkId", "accountId", "connectorId", payload, "expiresAt" <= $2::timestamp AS expired
      )
      SELECT taken.*, ${storedColumns('o', 'interaction_')}
      FROM taken LEFT JOIN "OidcModel" o ON o.model = 'Interaction' AND o.id = taken."interactionUid" AND o."expiresAt" > $2::timestamp`,
    values: [hashState(state), new Date().toISOString()],
  });
  if (!row || row.expired) return undefined;
  const interactionRow = row.interaction_payload === null ? undefined : storedPayload({ payload: row.interaction_payload, consumed: row.interaction_consumed });
  const common = { connectorId: row.connectorId, payload: row.payload as JsonObject, interactionRow };
  if (row.purpose === 'account-link' && row.accountId) return { purpose: 'account-link', accountId: row.accountId, ...common };
  if (row.purpose === 'link-proof' && row.interactionUid && row.pendingLinkId) {
    return { purpose: 'link-proof', interactionUid: row.interactionUid, pendingLinkId: row.pendingLinkId, ...common };
  }
  if (row.purpose === 'login' && row.interactionUid) return { purpose: 'login', interactionUid: row.interactionUid, ...common };
  return undefined;
}
