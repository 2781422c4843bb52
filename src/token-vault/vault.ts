import { z } from 'zod';
import { recordAudit } from '../audit/record.ts';
import type { Config } from '../config/load.ts';
import { tokenExchangeEnabled } from '../oidc/configuration.ts';
import type { Db } from '../db/client.ts';
import type { Prisma } from '../generated/prisma/client.ts';
import { UpstreamError, type UpstreamConnector, type UpstreamTokens } from '../upstreams/connector.ts';
import { createTokenCipher, TokenVaultKeyError, type TokenCipher, type VaultKey } from './cipher.ts';
import {
  deleteSealedTokens, findIdentityId, findTokenIdentities, findTokenIdentity, listRowsNotSealedWith, lockSealedTokens, saveSealedTokens, type SealedRow,
} from './repository.ts';

/**
 * The upstream token vault: keeps each identity's upstream tokens sealed (./cipher.ts),
 * and hands out a current access token, refreshing it through the connector when it has
 * expired. A refresh happens under the row's lock, so concurrent exchanges refresh once;
 * a refused refresh deletes the row, so a stale token is never handed out.
 */
export interface TokenVault {
  /** Id of the key new rows are sealed with. */
  readonly currentKeyId: string;
  /**
   * Keeps the tokens of a sign-in or link (the identity exists by now) when its upstream
   * has storeTokens, else does nothing. A missing refresh token keeps the stored one
   * (Google sends one only at the first consent).
   */
  keep(provider: string, subject: string, tokens: UpstreamTokens): Promise<void>;
  /** The person's current access token at `upstream`, refreshed when due; audited as `token.exchanged` for `clientId`. */
  currentToken(request: { accountId: string; upstream: string; clientId: string }): Promise<VaultAnswer>;
  /** Re-seals every row not sealed with the current key; resolves to how many. */
  rekey(): Promise<number>;
  /**
   * Deletes the person's stored tokens at `upstream` (every identity of it on the account),
   * audited as `upstream-tokens.dropped` with `reason`, and resolves to what they held, for
   * revoking them upstream. Rows that no longer open are deleted all the same.
   */
  forget(request: { accountId: string; upstream: string; reason: string }): Promise<ForgottenTokens[]>;
}

export type VaultAnswer =
  | { kind: 'token'; accessToken: string; expiresAt: Date | undefined; scope: string; subject: string; refreshed: boolean }
  /** No tokens stored for the person at that upstream (never signed in with it since storeTokens, or deleted). */
  | { kind: 'none' }
  /** The upstream refused the refresh token (grant revoked, or expired without one): the stored tokens were deleted. */
  | { kind: 'revoked'; detail: string }
  /** The row does not open: its key was removed from tokenVault.keys (or the row was altered). The next sign-in replaces it. */
  | { kind: 'unreadable' }
  /** The upstream could not refresh now (timeout, outage); nothing is handed out, the tokens stay. */
  | { kind: 'unavailable'; error: UpstreamError };

export interface ForgottenTokens { subject: string; accessToken: string | undefined; refreshToken: string | undefined }

/** A token with less left than this is refreshed first: the app still has to use it. */
export const REFRESH_MARGIN_MS = 5_000;

const secretsSchema = z.object({ a: z.string(), r: z.string().optional() });
type Secrets = z.infer<typeof secretsSchema>;
type Tx = Prisma.TransactionClient;

export function createTokenVault(deps: {
  db: Db; keys: readonly VaultKey[]; connectors: ReadonlyMap<string, UpstreamConnector>; storing: ReadonlySet<string>; timeoutMs: (upstream: string) => number;
}): TokenVault {
  const { db, connectors } = deps;
  const cipher: TokenCipher = createTokenCipher(deps.keys);
  const open = (row: SealedRow): Secrets => secretsSchema.parse(JSON.parse(cipher.open(row.keyId, row.sealed, row.identityId)));
  const seal = (identityId: string, secrets: Secrets, scope: string, expiresAt: Date | undefined): SealedRow => ({
    identityId, ...cipher.seal(JSON.stringify(secrets), identityId), scope, accessExpiresAt: expiresAt ?? null,
  });
  // The upstream call happens inside the transaction holding the row lock: give it the upstream's whole time limit.
  const withRowLock = <T>(upstream: string, work: (tx: Tx) => Promise<T>) => db.$transaction(work, { timeout: deps.timeoutMs(upstream) + 5_000, maxWait: 10_000 });

  return {
    currentKeyId: cipher.currentKeyId,
    async keep(provider, subject, tokens) {
      if (!deps.storing.has(provider)) return;
      const identity = await findIdentityId(db, provider, subject);
      if (!identity) return;
      await withRowLock(provider, async (tx) => {
        const previous = await lockSealedTokens(tx, identity.id);
        const refresh = tokens.refreshToken ?? (previous ? openOrForget(previous)?.r : undefined);
        await saveSealedTokens(tx, seal(identity.id, { a: tokens.accessToken, ...(refresh ? { r: refresh } : {}) }, tokens.scope, tokens.expiresAt));
      });
    },

    async currentToken({ accountId, upstream, clientId }) {
      const connector = deps.storing.has(upstream) ? connectors.get(upstream) : undefined;
      const identity = connector ? await findTokenIdentity(db, accountId, upstream) : undefined;
      if (!connector || !identity) return { kind: 'none' };
      return withRowLock(upstream, async (tx): Promise<VaultAnswer> => {
        const row = await lockSealedTokens(tx, identity.id);
        if (!row) return { kind: 'none' };
        const secrets = openOrForget(row);
        if (!secrets) return { kind: 'unreadable' };
        const audit = { accountId, clientId, provider: upstream, subject: identity.subject };
        const expiresAt = row.accessExpiresAt ?? undefined;
        if (!expiresAt || expiresAt.getTime() - Date.now() > REFRESH_MARGIN_MS) {
          // Lazy re-encryption: a row sealed with a retired key is re-sealed when next used.
          if (row.keyId !== cipher.currentKeyId) await saveSealedTokens(tx, seal(row.identityId, secrets, row.scope, expiresAt));
          await recordAudit(tx, { type: 'token.exchanged', ...audit, scope: row.scope, refreshed: false });
          return { kind: 'token', accessToken: secrets.a, expiresAt, scope: row.scope, subject: identity.subject, refreshed: false };
        }
        const dropped = async (detail: string): Promise<VaultAnswer> => {
          await dropTokens(tx, { identityId: row.identityId, accountId, upstream, subject: identity.subject, reason: detail });
          return { kind: 'revoked', detail };
        };
        if (!secrets.r) return dropped('access token expired and the upstream gave no refresh token');
        let fresh: UpstreamTokens;
        try {
          fresh = await connector.refreshTokens(secrets.r);
        } catch (err) {
          const error = err instanceof UpstreamError ? err : new UpstreamError(upstream, 'invalid_response', String(err), { cause: err });
          if (error.code === 'expired' || error.code === 'denied') return dropped('the upstream refused the refresh token (grant revoked or expired)');
          return { kind: 'unavailable', error };
        }
        // Rotating upstreams (GitHub Apps) send a new refresh token and void the old one; Google sends none and keeps it.
        // No scope in the answer: unchanged (RFC 6749 §6).
        const scope = fresh.scope || row.scope;
        await saveSealedTokens(tx, seal(row.identityId, { a: fresh.accessToken, r: fresh.refreshToken ?? secrets.r }, scope, fresh.expiresAt));
        await recordAudit(tx, { type: 'token.exchanged', ...audit, scope, refreshed: true });
        return { kind: 'token', accessToken: fresh.accessToken, expiresAt: fresh.expiresAt, scope, subject: identity.subject, refreshed: true };
      });
    },

    async forget({ accountId, upstream, reason }) {
      const forgotten: ForgottenTokens[] = [];
      for (const identity of await findTokenIdentities(db, accountId, upstream)) {
        await db.$transaction(async (tx) => {
          // Under the row lock: an exchange running now either finished before or finds nothing after.
          const row = await lockSealedTokens(tx, identity.id);
          if (!row) return;
          const secrets = openOrForget(row);
          await dropTokens(tx, { identityId: identity.id, accountId, upstream, subject: identity.subject, reason });
          forgotten.push({ subject: identity.subject, accessToken: secrets?.a, refreshToken: secrets?.r });
        });
      }
      return forgotten;
    },

    async rekey() {
      let done = 0;
      for (;;) {
        const ids = await listRowsNotSealedWith(db, cipher.currentKeyId, 100);
        if (!ids.length) return done;
        for (const id of ids) {
          await db.$transaction(async (tx) => {
            const row = await lockSealedTokens(tx, id);
            if (!row || row.keyId === cipher.currentKeyId) return;
            await saveSealedTokens(tx, seal(id, open(row), row.scope, row.accessExpiresAt ?? undefined));
          });
          done++;
        }
      }
    },
  };

  /** A row that no longer opens (its key was removed from the config) is unusable, and overwritten at the next sign-in rather than failing it. */
  function openOrForget(row: SealedRow): Secrets | undefined {
    try {
      return open(row);
    } catch (err) {
      if (err instanceof TokenVaultKeyError) return undefined;
      throw err;
    }
  }
}

/** Deletes one identity's stored tokens, audited as `upstream-tokens.dropped` (a refused refresh, a sign-out). */
async function dropTokens(tx: Tx, d: { identityId: string; accountId: string; upstream: string; subject: string; reason: string }): Promise<void> {
  await deleteSealedTokens(tx, d.identityId);
  await recordAudit(tx, { type: 'upstream-tokens.dropped', accountId: d.accountId, provider: d.upstream, subject: d.subject, reason: d.reason });
}

/** The vault when some upstream has storeTokens, else undefined (token exchange stays off). */
export function openTokenVault(config: Config, db: Db, connectors: ReadonlyMap<string, UpstreamConnector>): TokenVault | undefined {
  if (!tokenExchangeEnabled(config)) return undefined;
  const keys = config.tokenVault.keys.map((k) => ({ id: k.id, retired: k.retired, secret: k.secret ?? '' }));
  const timeouts = new Map(config.upstreams.map((u) => [u.id, u.timeoutMs]));
  const storing = new Set(config.upstreams.filter((u) => u.storeTokens).map((u) => u.id));
  return createTokenVault({ db, keys, connectors, storing, timeoutMs: (upstream) => timeouts.get(upstream) ?? 10_000 });
}
