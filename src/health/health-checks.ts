import type { Middleware } from 'koa';
import type pg from 'pg';
import { findPendingMigrations } from '../db/migrate.ts';
import type { ProviderKeys } from '../keys/key-ring.ts';
import type { Logger } from '../log.ts';
import { pingDatabase } from './repository.ts';

/**
 *   GET /healthz   200 {"status":"ok"} while the process serves HTTP; looks at nothing else,
 *                  so a database outage never gets healthy processes restarted (liveness)
 *   GET /readyz    200 when this process can serve logins: the database answers within
 *                  DATABASE_TIMEOUT_MS, no migration file is missing from _prisma_migrations,
 *                  signing keys and cookie secrets are loaded; otherwise 503 with the first
 *                  failing check as `reason` (readiness: take it out of the load balancer)
 *
 * Mounted before every other middleware: probes are not access-logged, not counted in
 * the HTTP metrics and never rate limited. Only a change of readiness is logged, not
 * each probe.
 */
const DATABASE_TIMEOUT_MS = 1000;

export interface HealthDeps {
  pool: pg.Pool;
  keys: ProviderKeys;
  /** Names of the migration files this build ships (db/migrate.ts readMigrationNames). */
  migrations: readonly string[];
  log: Logger;
}

type Check = 'ok' | 'failed' | 'not checked';
interface Readiness { ready: boolean; reason?: string; checks: { database: Check; migrations: Check; keys: Check } }

export function createHealthChecks(deps: HealthDeps): Middleware {
  let wasReady: boolean | undefined;
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/healthz') {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path !== '/readyz') return next();
    const readiness = await checkReadiness(deps);
    if (readiness.ready !== wasReady) {
      if (readiness.ready) deps.log.info('ready', { checks: readiness.checks });
      else deps.log.warn('not ready', { reason: readiness.reason, checks: readiness.checks });
      wasReady = readiness.ready;
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.status = readiness.ready ? 200 : 503;
    ctx.body = { status: readiness.ready ? 'ready' : 'unavailable', ...readiness };
  };
}

async function checkReadiness({ pool, keys, migrations }: HealthDeps): Promise<Readiness> {
  const checks: Readiness['checks'] = { database: 'not checked', migrations: 'not checked', keys: 'not checked' };
  checks.keys = keys.jwks.keys.length > 0 && keys.cookieKeys.length > 0 ? 'ok' : 'failed';
  if (checks.keys === 'failed') return { ready: false, reason: 'signing keys or cookie secrets not loaded', checks };
  const deadline = Date.now() + DATABASE_TIMEOUT_MS;
  try {
    await withTimeout(pingDatabase(pool, DATABASE_TIMEOUT_MS), DATABASE_TIMEOUT_MS);
    checks.database = 'ok';
  } catch {
    // The cause goes nowhere: this answer is public, and the cause may name hosts and users.
    checks.database = 'failed';
    return { ready: false, reason: 'database unreachable', checks };
  }
  let pending: string[];
  try {
    const left = Math.max(1, deadline - Date.now());
    pending = await withTimeout(findPendingMigrations(pool, migrations, left), left);
  } catch {
    checks.migrations = 'failed';
    return { ready: false, reason: 'database unreachable', checks };
  }
  checks.migrations = pending.length ? 'failed' : 'ok';
  if (pending.length) return { ready: false, reason: `migrations pending: ${pending.join(', ')}`, checks };
  return { ready: true, checks };
}

/** pg's query_timeout does not cover waiting for a connection (a server that does not answer the connect). */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
