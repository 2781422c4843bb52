import { Redis } from 'ioredis';
import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Notifications } from '../db/notifications.ts';
import type { Logger } from '../log.ts';
import { openBlockedKeys } from './blocked-keys.ts';
import type { RateLimitName, RateLimitSettings } from './settings.ts';

/**
 * Where the counters live. rate-limiter-flexible (one atomic upsert per count, in Postgres
 * or Redis) does the counting; this module only picks the store and turns its answers
 * into "allowed" or "refused for N ms".
 *
 * Store failures fail open: a request is allowed when its limiter cannot be asked, and
 * the failure is logged (at most once a minute), because refusing every sign-in while
 * the store is down would turn a limiter outage into a Doorman outage.
 */

export interface Limit {
  readonly name: RateLimitName;
  /** Counts one event for `key` (an upsert); refused once the key is over its limit. */
  consume(key: string): Promise<Verdict>;
  /** Is `key` already at its limit? A read only; `count` adds the event afterwards. */
  check(key: string): Promise<Verdict>;
  /** Counts one event (a failure) without refusing the request that caused it; true when this one reached the limit. */
  count(key: string): Promise<boolean>;
}

/** `refusedForMs` > 0: refuse, and say when to retry. */
export interface Verdict { refusedForMs: number; justBlocked: boolean }
const ALLOWED: Verdict = { refusedForMs: 0, justBlocked: false };

export interface RateLimiters {
  limit(name: RateLimitName): Limit;
  /** `check` of several (limit, key) pairs, in one read of the store: the token endpoint asks per IP and per client on every request. */
  checkTogether(pairs: readonly (readonly [Limit, string])[]): Promise<Verdict[]>;
  close(): Promise<void>;
}

/** The table created by prisma/migrations/20261122120000_rate_limits (model RateLimit). */
const TABLE = 'RateLimit';
const SWEEP_MS = 5 * 60_000;

/** The limits whose blocks the right client secret is checked against on every token request (blocked-keys.ts). */
const BLOCKED_IN_MEMORY: readonly RateLimitName[] = ['clientAuthFailuresPerIp', 'clientAuthFailuresPerClient'];

export async function openRateLimiters(settings: RateLimitSettings, deps: { pool: pg.Pool; notifications: Notifications; log: Logger }): Promise<RateLimiters> {
  const warn = throttledWarn(deps.log);
  let redis: Redis | undefined;
  if (settings.redisUrl) {
    // No offline queue: while Redis is unreachable a count fails at once (and is allowed)
    // instead of waiting for a reconnect with the request hanging.
    redis = new Redis(settings.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', (err: Error) => warn('rate limit store (Redis) error', err));
  }
  const names: RateLimitName[] = ['clientAuthFailuresPerIp', 'clientAuthFailuresPerClient', 'loginStartsPerIp', 'upstreamCallbacksPerIp', 'adminRequestsPerToken', 'userCodeAttemptsPerIp'];
  const stores = names.map((name) => {
    const { points, durationSeconds: duration } = settings[name];
    // The key prefix keeps each limit's keys apart in the one table (or keyspace). Once a
    // key is refused, this process keeps refusing it from memory until its window ends, so
    // a flood costs the store one write per process, not one per request.
    const options = { keyPrefix: name, points, duration, inMemoryBlockOnConsumed: points + 1 };
    const limiter: RateLimiterAbstract = redis
      ? new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true })
      // Our migration made the table; expired rows are swept below, on a timer `close` stops.
      : new RateLimiterPostgres({ ...options, storeClient: deps.pool, storeType: 'pool', tableName: TABLE, tableCreated: true, clearExpiredByTimeout: false });
    return { name, limiter, points };
  });
  // With Redis every check stays a read of Redis: no table to load from, and reads there are cheap.
  const blocked = redis ? undefined : await openBlockedKeys({
    pool: deps.pool, notifications: deps.notifications, log: deps.log,
    limits: BLOCKED_IN_MEMORY.map((name) => ({ name, points: settings[name].points, durationMs: settings[name].durationSeconds * 1000 })),
  });
  const limits = new Map(stores.map(({ name, limiter, points }) => {
    const reached = blocked && BLOCKED_IN_MEMORY.includes(name) ? async (key: string, res: RateLimiterRes) => {
      if (res.consumedPoints >= points) await blocked.block(`${name}:${key}`, Date.now() + res.msBeforeNext);
    } : undefined;
    return [name, wrap(name, limiter, points, warn, reached)];
  }));
  // Redis expires its keys itself. In Postgres an expired row is ignored and reset by the
  // next count, so deleting it only keeps the table small (one DELETE serves every limit).
  const sweeper = redis ? undefined : stores[0]!.limiter as unknown as { clearExpired(before: number): Promise<void> };
  const sweep = sweeper ? setInterval(() => void sweeper.clearExpired(Date.now()), SWEEP_MS) : undefined;
  sweep?.unref();
  const pointsOf = new Map(stores.map(({ name, points }) => [name, points]));
  /** The table's verdicts; undefined when it could not be read (logged; the request is allowed: fail open). */
  const readTogether = async (pairs: readonly (readonly [Limit, string])[]): Promise<Verdict[] | undefined> => {
    // rate-limiter-flexible's row format: key `<keyPrefix>:<key>`, points consumed, expire in epoch ms (its `get`).
    const keys = pairs.map(([limit, key]) => `${limit.name}:${key}`);
    const now = Date.now();
    try {
      const { rows } = await deps.pool.query<{ key: string; points: number; expire: string | null }>({
        name: 'rate-limit-check-together',
        text: `SELECT key, points, expire FROM "${TABLE}" WHERE key = ANY($1::text[]) AND (expire > $2 OR expire IS NULL)`,
        values: [keys, now],
      });
      const byKey = new Map(rows.map((r) => [r.key, r]));
      return pairs.map(([limit], i) => {
        const row = byKey.get(keys[i]!);
        return row && row.points >= pointsOf.get(limit.name)! ? { refusedForMs: Math.max(row.expire === null ? 1 : Number(row.expire) - now, 1), justBlocked: false } : ALLOWED;
      });
    } catch (err) {
      warn(`rate limits ${pairs.map(([l]) => l.name).join(', ')} not checked (store failed); request allowed`, err);
      return undefined;
    }
  };
  const checkTogether = redis ? (pairs: readonly (readonly [Limit, string])[]) => Promise.all(pairs.map(([limit, key]) => limit.check(key)))
    : async (pairs: readonly (readonly [Limit, string])[]): Promise<Verdict[]> => {
      if (!blocked?.known || !pairs.every(([limit]) => BLOCKED_IN_MEMORY.includes(limit.name))) return await readTogether(pairs) ?? pairs.map(() => ALLOWED);
      // The usual case, a key nobody blocked: answered from memory, no statement.
      const now = Date.now();
      const seen = pairs.map(([limit, key]) => blocked.until(`${limit.name}:${key}`, now));
      if (seen.every((until) => until === undefined)) return pairs.map(() => ALLOWED);
      // Refused only if the table agrees (blocked-keys.ts): one read, as before, for a blocked key only.
      const verdicts = await readTogether(pairs);
      if (!verdicts) return pairs.map(() => ALLOWED);
      pairs.forEach(([limit, key], i) => {
        if (seen[i] !== undefined && !verdicts[i]!.refusedForMs) blocked.lifted(`${limit.name}:${key}`, seen[i]);
      });
      return verdicts;
    };
  return {
    limit: (name) => limits.get(name)!,
    checkTogether,
    close: async () => {
      clearInterval(sweep);
      redis?.disconnect();
      await blocked?.close();
    },
  };
}

/** `reached`: told the store's answer to every count, to note keys that reached the limit. */
function wrap(name: RateLimitName, limiter: RateLimiterAbstract, points: number, warn: Warn, reached?: (key: string, res: RateLimiterRes) => Promise<void>): Limit {
  const refused = (res: RateLimiterRes, justBlocked: boolean): Verdict => ({ refusedForMs: Math.max(res.msBeforeNext, 1), justBlocked });
  return {
    name,
    consume: async (key) => {
      try {
        const res = await limiter.consume(key); // not inside reached?.(): that would skip it when there is no `reached`
        await reached?.(key, res);
        return ALLOWED;
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          await reached?.(key, err);
          return refused(err, err.consumedPoints === points + 1);
        }
        warn(`rate limit ${name} not checked (store failed); request allowed`, err);
        return ALLOWED;
      }
    },
    check: async (key) => {
      try {
        const res = await limiter.get(key);
        return res && res.consumedPoints >= points ? refused(res, false) : ALLOWED;
      } catch (err) {
        warn(`rate limit ${name} not checked (store failed); request allowed`, err);
        return ALLOWED;
      }
    },
    count: async (key) => {
      try {
        const res = await limiter.penalty(key, 1);
        await reached?.(key, res);
        return res.consumedPoints === points;
      } catch (err) {
        warn(`rate limit ${name} not counted (store failed)`, err);
        return false;
      }
    },
  };
}

type Warn = (msg: string, err: unknown) => void;

/** While a store is down every request fails the same way; one line a minute says so. */
function throttledWarn(log: Logger, everyMs = 60_000): Warn {
  const last = new Map<string, number>();
  return (msg, err) => {
    const now = Date.now();
    if (now - (last.get(msg) ?? -Infinity) < everyMs) return;
    last.set(msg, now);
    log.warn(msg, { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  };
}
