import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../db/client.ts';

/**
 * oidc-provider's storage on Postgres through Prisma: one `OidcModel` table for every
 * model (Session, Interaction, AuthorizationCode, AccessToken, RefreshToken, Grant,
 * ReplayDetection, ...), keyed by (model, id), with the lookup keys lifted into indexed
 * columns. The contract is oidc-provider's example/my_adapter.js:
 *  - `find*` resolve to undefined when the row is missing or expired (expiry is checked
 *    here, so a row not yet swept by `deleteExpiredOidcRows` never comes back);
 *  - a consumed row comes back with `consumed` (epoch seconds) set;
 *  - `revokeByGrantId` removes this model's rows of that grant (oidc-provider calls it
 *    once per model);
 *  - `expiresIn` is absent for models that never expire.
 * Clients are static (config), so the Client model is never found here.
 */
export function createPrismaAdapter(db: Db): (model: string) => Adapter {
  return (model) => new PrismaAdapter(db, model);
}

class PrismaAdapter implements Adapter {
  readonly #db: Db;
  readonly #model: string;

  constructor(db: Db, model: string) {
    this.#db = db;
    this.#model = model;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const columns = {
      payload: payload as Prisma.InputJsonObject,
      accountId: typeof payload.accountId === 'string' ? payload.accountId : null,
      grantId: payload.grantId ?? null,
      uid: payload.uid ?? null,
      userCode: payload.userCode ?? null,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
    };
    await this.#db.oidcModel.upsert({
      where: { model_id: { model: this.#model, id } },
      create: { model: this.#model, id, ...columns },
      update: columns,
    });
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.#findFirst({ id });
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findFirst({ uid });
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findFirst({ userCode });
  }

  async consume(id: string): Promise<void> {
    await this.#db.oidcModel.updateMany({ where: { model: this.#model, id }, data: { consumedAt: new Date() } });
  }

  async destroy(id: string): Promise<void> {
    await this.#db.oidcModel.deleteMany({ where: { model: this.#model, id } });
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#db.oidcModel.deleteMany({ where: { model: this.#model, grantId } });
  }

  async #findFirst(where: { id?: string; uid?: string; userCode?: string }): Promise<AdapterPayload | undefined> {
    if (this.#model === 'Client') return undefined;
    const row = await this.#db.oidcModel.findFirst({
      where: { model: this.#model, ...where, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
      select: { payload: true, consumedAt: true },
    });
    if (!row) return undefined;
    const payload = row.payload as AdapterPayload;
    return row.consumedAt ? { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) } : payload;
  }
}

/**
 * Ends everything oidc-provider holds for an account: sessions, grants (consents), codes,
 * access and refresh tokens. Introspection then says inactive and refresh fails.
 */
export async function revokeEverythingOf(tx: Prisma.TransactionClient, accountId: string): Promise<number> {
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
