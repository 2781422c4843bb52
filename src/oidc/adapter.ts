import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Prisma } from '../generated/prisma/client.ts';
import type pg from 'pg';
import { poolOf, type Db } from '../db/client.ts';
import { queueLogoutsForSessions } from '../logout/repository.ts';

/**
 * oidc-provider's storage on Postgres: one `OidcModel` table for every
 * model (Session, Interaction, AuthorizationCode, AccessToken, RefreshToken, Grant,
 * ReplayDetection, ...), keyed by (model, id), with the lookup keys lifted into indexed
 * columns. The contract is oidc-provider's example/my_adapter.js:
 *  - `find*` resolve to undefined when the row is missing or expired (expiry is checked
 *    here, so a row not yet swept by `deleteExpiredOidcRows` never comes back); a device
 *    code's row is kept an hour past its own expiry (KEPT_AFTER_EXPIRY);
 *  - a consumed row comes back with `consumed` (epoch seconds) set;
 *  - `consume` marks a row consumed only if it is not yet, in one statement, and throws
 *    `ConsumeRaceLostError` otherwise: oidc-provider checks `consumed` after `find` and
 *    consumes later, so two requests with one code or refresh token can both pass its
 *    check; the database decides which one used it (token-policy.ts handles the loser);
 *  - a ReplayDetection row is inserted only if no live one has its id, else
 *    `ConsumeRaceLostError` (token-policy.ts makes that a replay);
 *  - `revokeByGrantId` removes this model's rows of that grant (oidc-provider calls it
 *    once per model);
 *  - an Interaction is used up once: saving a result onto one that is gone, or destroying
 *    one that is gone, throws `SessionNotFound` (two resumes or two consents racing);
 *  - a device code is confirmed once: marking it in flight when it already is (or is
 *    approved or denied) throws oidc-provider's `AlreadyUsedError`;
 *  - `expiresIn` is absent for models that never expire.
 * Clients are not kept here: config clients are static, and database clients are answered
 * from the registry by clients/provider-clients.ts, so this Client model finds nothing.
 */
export function createOidcAdapter(db: Db, alreadyRead = new RowsAlreadyRead()): (model: string) => Adapter {
  const pool = poolOf(db);
  return (model) => new OidcModelAdapter(pool, model, alreadyRead);
}

/**
 * Rows one of our own statements read along with its work, for oidc-provider's next
 * `find` of that row to take instead of reading it again: the upstream callback's take of
 * its transaction brings the login's interaction along (interactions/repository.ts), one
 * statement less per login. Each row is taken once, and only within a second of being
 * read (the callback finds it at once; one left behind by a failed callback goes stale).
 */
export class RowsAlreadyRead {
  static readonly FRESH_MS = 1000;
  readonly #rows = new Map<string, { payload: AdapterPayload; at: number }>();

  put(model: string, id: string, payload: AdapterPayload): void {
    const now = performance.now();
    // Oldest first (insertion order): drop the stale ones in front.
    for (const [key, row] of this.#rows) {
      if (now - row.at < RowsAlreadyRead.FRESH_MS) break;
      this.#rows.delete(key);
    }
    this.#rows.set(`${model}\0${id}`, { payload, at: now });
  }

  take(model: string, id: string): AdapterPayload | undefined {
    const key = `${model}\0${id}`;
    const row = this.#rows.get(key);
    if (!row) return undefined;
    this.#rows.delete(key);
    return performance.now() - row.at < RowsAlreadyRead.FRESH_MS ? row.payload : undefined;
  }
}

/**
 * Every call is one hand-written statement on the `pg` pool under Prisma (db/client.ts),
 * not through Prisma: this adapter runs ~20 times per login, and Prisma's raw-query path
 * cost more CPU per statement than the statement itself (bench/profile.ts). Times go in as
 * UTC ISO text cast to `timestamp` and come out as epoch seconds: the columns are
 * timestamp-without-time-zone holding UTC (Prisma's convention), so neither the process's
 * nor the database's time zone may matter.
 */
class OidcModelAdapter implements Adapter {
  readonly #pool: pg.Pool;
  readonly #model: string;
  readonly #alreadyRead: RowsAlreadyRead;

  constructor(pool: pg.Pool, model: string, alreadyRead: RowsAlreadyRead) {
    this.#pool = pool;
    this.#model = model;
    this.#alreadyRead = alreadyRead;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const json = JSON.stringify(payload);
    // jsonb cannot hold U+0000. Parameters reach payloads without passing a URL (a pushed
    // request's state, a `claims` JSON holding "\u0000"): refuse them as the client's error.
    if (NUL_ESCAPE.test(json)) throw new errors.InvalidRequest('request parameters must not contain NUL characters');
    const accountId = typeof payload.accountId === 'string' ? payload.accountId : null;
    const expiresAt = expiresIn ? utc(Date.now() + (expiresIn + (KEPT_AFTER_EXPIRY[this.#model] ?? 0)) * 1000) : null;
    if (this.#model === 'ReplayDetection') return this.#insertOnce(id, json, expiresAt);
    if (this.#model === 'Interaction' && payload.result !== undefined) return this.#updateOnly(id, json, expiresAt);
    if (this.#model === 'DeviceCode' && payload.inFlight && !payload.accountId && !payload.error) return this.#claimDeviceCode(id, json, expiresAt, payload.userCode);
    await this.#pool.query({
      name: 'oidc-upsert',
      text: `INSERT INTO "OidcModel" (model, id, payload, "accountId", "grantId", uid, "userCode", "expiresAt")
      VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8::timestamp)
      ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, "accountId" = EXCLUDED."accountId", "grantId" = EXCLUDED."grantId",
        uid = EXCLUDED.uid, "userCode" = EXCLUDED."userCode", "expiresAt" = EXCLUDED."expiresAt"`,
      values: [this.#model, id, json, accountId, payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresAt],
    });
  }

  /**
   * A ReplayDetection row (a DPoP proof's jti, per client) is written once: oidc-provider
   * finds, then saves, so two requests with one proof could both pass its check. Only an
   * expired row may be overwritten; a live one means another request used the jti first.
   */
  async #insertOnce(id: string, json: string, expiresAt: string | null): Promise<void> {
    const { rowCount } = await this.#pool.query({
      name: 'oidc-insert-once',
      text: `INSERT INTO "OidcModel" (model, id, payload, "expiresAt") VALUES ($1, $2, $3::jsonb, $4::timestamp)
      ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, "expiresAt" = EXCLUDED."expiresAt"
      WHERE "OidcModel"."expiresAt" IS NOT NULL AND "OidcModel"."expiresAt" <= $5::timestamp`,
      values: [this.#model, id, json, expiresAt, utc(Date.now())],
    });
    if (rowCount === 0) throw new ConsumeRaceLostError(this.#model);
  }

  /**
   * An interaction's result (login, consent, error) is saved onto the interaction the form
   * loaded. If a racing resume has meanwhile issued its code and destroyed it, inserting
   * would bring it back for a second resume and a second code: a result never creates one.
   */
  async #updateOnly(id: string, json: string, expiresAt: string | null): Promise<void> {
    const { rowCount } = await this.#pool.query({
      name: 'oidc-update-interaction',
      text: 'UPDATE "OidcModel" SET payload = $3::jsonb, "expiresAt" = $4::timestamp WHERE model = $1 AND id = $2',
      values: [this.#model, id, json, expiresAt],
    });
    if (rowCount === 0) throw new errors.SessionNotFound('interaction session not found');
  }

  /**
   * A person's "confirm" marks the device code in flight; oidc-provider finds the code,
   * checks it is not, then saves, so two people confirming one code at once both passed and
   * both were told the device is signed in (it got one of them). Only the first claim
   * counts; the other gets the page a code already used gets.
   */
  async #claimDeviceCode(id: string, json: string, expiresAt: string | null, userCode: unknown): Promise<void> {
    const { rowCount } = await this.#pool.query({
      name: 'oidc-claim-device-code',
      text: `UPDATE "OidcModel" SET payload = $3::jsonb, "expiresAt" = $4::timestamp
      WHERE model = $1 AND id = $2 AND NOT (payload ?| array['inFlight', 'accountId', 'error'])`,
      values: [this.#model, id, json, expiresAt],
    });
    if (rowCount === 0) throw new AlreadyUsedError(typeof userCode === 'string' ? userCode : undefined);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (this.#model === 'Client' || !isStorable(id)) return undefined;
    const read = this.#alreadyRead.take(this.#model, id);
    if (read) return read;
    return this.#one('oidc-find', `${SELECT} WHERE model = $1 AND id = $2 AND ("expiresAt" IS NULL OR "expiresAt" > $3::timestamp)`, id);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (!isStorable(uid)) return undefined;
    return this.#one('oidc-find-uid', `${SELECT} WHERE model = $1 AND uid = $2 AND ("expiresAt" IS NULL OR "expiresAt" > $3::timestamp) LIMIT 1`, uid);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    if (!isStorable(userCode)) return undefined;
    return this.#one('oidc-find-user-code', `${SELECT} WHERE model = $1 AND "userCode" = $2 AND ("expiresAt" IS NULL OR "expiresAt" > $3::timestamp) ORDER BY "expiresAt" DESC LIMIT 1`, userCode);
  }

  async consume(id: string): Promise<void> {
    const { rowCount } = await this.#pool.query({
      name: 'oidc-consume',
      text: 'UPDATE "OidcModel" SET "consumedAt" = $3::timestamp WHERE model = $1 AND id = $2 AND "consumedAt" IS NULL',
      values: [this.#model, id, utc(Date.now())],
    });
    if (rowCount === 0) throw new ConsumeRaceLostError(this.#model);
  }

  async destroy(id: string): Promise<void> {
    const { rowCount } = await this.#pool.query({ name: 'oidc-destroy', text: 'DELETE FROM "OidcModel" WHERE model = $1 AND id = $2', values: [this.#model, id] });
    // oidc-provider's resume (/auth/:uid, /device/:uid) finds the finished interaction, then
    // destroys it and issues the code: two resumes at once (two consents racing, a retried
    // redirect) both pass its find. Only the one whose delete removed the row goes on; the
    // other gets what a later replay gets.
    if (this.#model === 'Interaction' && rowCount === 0) throw new errors.SessionNotFound('interaction session not found');
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#pool.query({ name: 'oidc-revoke-grant', text: 'DELETE FROM "OidcModel" WHERE model = $1 AND "grantId" = $2', values: [this.#model, grantId] });
  }

  async #one(name: string, text: string, key: string): Promise<AdapterPayload | undefined> {
    const { rows: [row] } = await this.#pool.query<Row>({ name, text, values: [this.#model, key, utc(Date.now())] });
    return row ? storedPayload(row) : undefined;
  }
}

/**
 * What `find` answers for a row read as `storedColumns` (by it, or by another statement
 * that reads an OidcModel row along: RowsAlreadyRead).
 */
export function storedPayload(row: Row): AdapterPayload {
  return row.consumed === null ? row.payload : { ...row.payload, consumed: row.consumed };
}

/**
 * oidc-provider's own "code has already been used" (its device pages tell it by class and
 * name, device/pages.ts); the library exports no type for it.
 */
const { AlreadyUsedError } = await import('oidc-provider/lib/helpers/re_render_errors.js' as string) as { AlreadyUsedError: new (userCode?: string) => Error };

// Named statements: each connection parses and plans them once.
/** The columns `find` reads, from OidcModel under `alias`, named with `prefix` (another statement reading a row along: RowsAlreadyRead). */
export function storedColumns(alias = '"OidcModel"', prefix = ''): string {
  return `${alias}.payload AS "${prefix}payload", floor(extract(epoch FROM ${alias}."consumedAt"))::int AS "${prefix}consumed"`;
}
const SELECT = `SELECT ${storedColumns()} FROM "OidcModel"`;

export type Row = { payload: AdapterPayload; consumed: number | null };

/** Epoch milliseconds as UTC ISO text, for a timestamp-without-time-zone column holding UTC. */
function utc(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Seconds a row outlives its own expiry, per model. A device code: oidc-provider checks
 * its `exp` itself and tells an expired code from an unknown one (`expired_token` to the
 * polling device, RFC 8628 §3.5, and "expired" on the code page), but only while the row
 * can still be found. (A newer code with the same user code wins: findByUserCode takes
 * the latest.)
 */
const KEPT_AFTER_EXPIRY: Partial<Record<string, number>> = { DeviceCode: 3600 };

/** A `\u0000` escape in JSON text, not preceded by an escaped backslash (`\\u0000` is six harmless characters). */
const NUL_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u0000/;

/**
 * False for a key holding NUL: PostgreSQL text cannot hold one, so no such row exists, and
 * asking would fail the query ("invalid byte sequence") instead of finding nothing. Codes
 * and tokens come straight from clients (/token, /token/introspection, /me ...).
 */
function isStorable(key: string): boolean {
  return !key.includes('\0');
}

/**
 * `consume` found the row already consumed (or gone, e.g. revoked meanwhile): another
 * request used this code or token first.
 */
export class ConsumeRaceLostError extends Error {
  readonly model: string;
  constructor(model: string) {
    super(`${model} was consumed by another request first`);
    this.name = 'ConsumeRaceLostError';
    this.model = model;
  }
}

/**
 * Ends everything oidc-provider holds for an account: sessions, grants (consents), codes,
 * access and refresh tokens. Introspection then says inactive and refresh fails. The
 * sessions' apps get a back-channel logout (src/logout).
 */
export async function revokeEverythingOf(tx: Prisma.TransactionClient, accountId: string): Promise<number> {
  await queueLogoutsForSessions(tx, accountId);
  const { count } = await tx.oidcModel.deleteMany({ where: { accountId } });
  return count;
}

/**
 * Moves an account's consents (Grant rows) to another account when two are merged; the
 * retired account's sessions and tokens are revoked separately, so the grants move
 * without any live credential.
 */
export async function moveGrants(tx: Prisma.TransactionClient, from: string, to: string): Promise<void> {
  await tx.$executeRaw`UPDATE "OidcModel" SET "accountId" = ${to}, payload = jsonb_set(payload, '{accountId}', to_jsonb(${to}::text))
    WHERE model = 'Grant' AND "accountId" = ${from}`;
}

/** Sweeps expired rows; `find` already hides them, this only keeps the table small. */
export async function deleteExpiredOidcRows(db: Db, now = new Date()): Promise<number> {
  const [oidc, upstream, pending] = await db.$transaction([
    db.oidcModel.deleteMany({ where: { expiresAt: { lt: now } } }),
    db.upstreamTransaction.deleteMany({ where: { expiresAt: { lt: now } } }),
    db.pendingLink.deleteMany({ where: { expiresAt: { lt: now } } }),
  ]);
  return oidc.count + upstream.count + pending.count;
}

/**
 * Revokes one app's grants (consents) for one account, with everything issued under them
 * (codes, access and refresh tokens), in the caller's transaction. Returns the number of
 * grants. Sessions stay: the person is still signed in to Doorman and to other apps.
 */
export async function revokeGrantsOf(tx: Prisma.TransactionClient, accountId: string, clientId: string): Promise<number> {
  const grants = await tx.oidcModel.findMany({ where: { model: 'Grant', accountId, payload: { path: ['clientId'], equals: clientId } }, select: { id: true } });
  const ids = grants.map((g) => g.id);
  if (ids.length) await tx.oidcModel.deleteMany({ where: { OR: [{ grantId: { in: ids } }, { model: 'Grant', id: { in: ids } }] } });
  return ids.length;
}

/** What the admin console shows of a live session or refresh token: never the row id, which is the cookie or the token itself. */
export interface LiveCredential { model: 'Session' | 'RefreshToken'; uid: string | null; grantId: string | null; clientId: string | null; issuedAt: Date | null; expiresAt: Date | null }

/** An account's unexpired sessions and unused refresh tokens, newest first. */
export async function listLiveCredentialsOf(db: Db, accountId: string, now = new Date()): Promise<LiveCredential[]> {
  const rows = await db.$queryRaw<{ model: 'Session' | 'RefreshToken'; uid: string | null; grantId: string | null; clientId: string | null; iat: number | null; expiresAt: Date | null }[]>`
    SELECT model, uid, "grantId", payload->>'clientId' AS "clientId", coalesce((payload->>'loginTs')::bigint, (payload->>'iat')::bigint)::int AS iat, "expiresAt"
    FROM "OidcModel"
    WHERE "accountId" = ${accountId} AND model IN ('Session', 'RefreshToken') AND "consumedAt" IS NULL AND ("expiresAt" IS NULL OR "expiresAt" > ${now})
    ORDER BY "expiresAt" DESC NULLS LAST`;
  return rows.map((r) => ({ model: r.model, uid: r.uid, grantId: r.grantId, clientId: r.clientId, issuedAt: r.iat ? new Date(r.iat * 1000) : null, expiresAt: r.expiresAt }));
}

/** Ends one browser session of the account (by its uid), with a back-channel logout to its apps; resolves to the rows deleted (0: none such). */
export async function revokeSessionOf(tx: Prisma.TransactionClient, accountId: string, sessionUid: string): Promise<number> {
  await queueLogoutsForSessions(tx, accountId, sessionUid);
  const { count } = await tx.oidcModel.deleteMany({ where: { model: 'Session', accountId, uid: sessionUid } });
  return count;
}

/**
 * Revokes one grant of the account with every code and token issued under it (RFC 7009
 * §2.1: revoking a refresh token revokes the grant's access tokens too). Resolves to the
 * rows deleted (0: no such grant of this account).
 */
export async function revokeGrantOf(tx: Prisma.TransactionClient, accountId: string, grantId: string): Promise<number> {
  const { count } = await tx.oidcModel.deleteMany({ where: { accountId, OR: [{ grantId }, { model: 'Grant', id: grantId }] } });
  return count;
}
