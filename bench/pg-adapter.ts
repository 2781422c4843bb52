import type { Adapter, AdapterPayload } from 'oidc-provider';
import type pg from 'pg';

/**
 * Baseline (b): the smallest honest oidc-provider adapter on plain `pg`: one table, JSONB
 * payload, indexed grantId/uid/userCode, one statement per call. It shows what Prisma
 * itself costs next to Doorman's adapter.
 */
export const PG_ADAPTER_DDL = `
CREATE TABLE IF NOT EXISTS bench_oidc (
  model text NOT NULL, id text NOT NULL, payload jsonb NOT NULL,
  grant_id text, uid text, user_code text, expires_at timestamptz, consumed_at timestamptz,
  PRIMARY KEY (model, id));
CREATE INDEX IF NOT EXISTS bench_oidc_grant_id ON bench_oidc (grant_id);
CREATE INDEX IF NOT EXISTS bench_oidc_uid ON bench_oidc (uid);
CREATE INDEX IF NOT EXISTS bench_oidc_user_code ON bench_oidc (user_code);`;

export function createPgAdapter(pool: pg.Pool): (model: string) => Adapter {
  return (model) => {
    const findBy = async (column: 'id' | 'uid' | 'user_code', value: string) => {
      const { rows } = await pool.query<{ payload: AdapterPayload; consumed_at: Date | null }>(
        `SELECT payload, consumed_at FROM bench_oidc WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`, [model, value]);
      const row = rows[0];
      if (!row) return undefined;
      return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
    };
    return {
      async upsert(id, payload, expiresIn) {
        await pool.query(
          `INSERT INTO bench_oidc (model, id, payload, grant_id, uid, user_code, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int IS NULL THEN NULL ELSE now() + make_interval(secs => $7::int) END)
           ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
             user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at`,
          [model, id, payload, payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresIn ?? null]);
      },
      find: (id) => (model === 'Client' ? Promise.resolve(undefined) : findBy('id', id)),
      findByUid: (uid) => findBy('uid', uid),
      findByUserCode: (code) => findBy('user_code', code),
      async consume(id) { await pool.query('UPDATE bench_oidc SET consumed_at = now() WHERE model = $1 AND id = $2', [model, id]); },
      async destroy(id) { await pool.query('DELETE FROM bench_oidc WHERE model = $1 AND id = $2', [model, id]); },
      async revokeByGrantId(grantId) { await pool.query('DELETE FROM bench_oidc WHERE model = $1 AND grant_id = $2', [model, grantId]); },
    };
  };
}
