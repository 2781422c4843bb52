import { createHash } from 'node:crypto';
import type pg from 'pg';
import { notify, type Notifications } from '../db/notifications.ts';
import type { Logger } from '../log.ts';

/**
 * The keys over the client-authentication failure limits, known in memory in every
 * process, so that a right client secret is checked without a read of the RateLimit table
 * (it was the one statement a client_credentials grant had beyond oidc-provider's own).
 *
 * - The process whose count reached a limit adds the key here and announces it with NOTIFY
 *   (a statement per block, none per request); every process LISTENs and adds it too.
 * - On every (re)start of the LISTEN connection the blocked keys are loaded from the table
 *   once, for the blocks announced while nobody here was listening.
 * - While the connection is down or that load is not done (or failed, or the list overflowed
 *   MAX_ENTRIES), `known` is false and the caller reads the table as before.
 * - A key found here is confirmed in the table before it is refused: a block an operator
 *   lifted (deleted the row) ends at once, and a NOTIFY someone else sent on the channel
 *   (anyone who can connect to the database can) never refuses anyone by itself.
 *
 * - The table is loaded again every RELOAD_MS while the list is complete: a block whose
 *   NOTIFY never came (its process died between the count and the announcement, the NOTIFY
 *   failed on a pool starved by the very flood that made the block, or an older version
 *   counted it during a rolling upgrade) would otherwise pass right secrets for its whole window.
 *
 * What remains: after a key is blocked by one process, another may still accept a *right*
 * secret for it until the notification arrives (milliseconds), or, when it never arrives,
 * until the next load (at most RELOAD_MS). Wrong secrets are counted in the table, exactly,
 * before they are answered, so guessing gains nothing from it.
 */
export interface BlockedKeys {
  /** True while this list is complete: false sends the check to the table. */
  readonly known: boolean;
  /** The expiry (epoch ms) of a block of `storeKey` (`<limit>:<key>`, as in the table), if this process knows one. */
  until(storeKey: string, now: number): number | undefined;
  /**
   * A count reached the limit here: remember `storeKey` until `expire` (epoch ms) and tell the
   * other processes. Resolves once told (never rejects): the failure that reached the limit is
   * answered after that, so a client that goes on to another process meets the block there.
   */
  block(storeKey: string, expire: number): Promise<void>;
  /** The table says `storeKey` is not blocked: forget it, unless a newer block came meanwhile. */
  lifted(storeKey: string, seenUntil: number): void;
  close(): Promise<void>;
}

export const BLOCKED_CHANNEL = 'doorman_rate_limit_blocked';
/** Bounds memory (~200 bytes each). When more are blocked at once, checks go to the table until fewer are. */
export const MAX_ENTRIES = 100_000;
const RELOAD_MS = 60_000;
/** Longer keys (an odd address a proxy passed on, say) are known by their hash, so a NOTIFY payload stays small (< 8000 bytes). */
const MAX_KEY_LENGTH = 300;

export interface BlockedLimit { name: string; points: number; durationMs: number }

export async function openBlockedKeys(deps: { pool: pg.Pool; notifications: Notifications; limits: BlockedLimit[]; log: Logger; reloadMs?: number }): Promise<BlockedKeys> {
  const { pool, log } = deps;
  const reloadMs = deps.reloadMs ?? RELOAD_MS;
  const limits = new Map(deps.limits.map((l) => [l.name, l]));
  const entries = new Map<string, number>();
  let listening = false;
  let loaded = false;
  // Bumped when the channel goes down or the list overflows: a load begun before it does not count.
  let generation = 0;
  let reload: NodeJS.Timeout | undefined;
  let closed = false;
  let loading: Promise<void> | undefined;

  const tooMany = () => log.warn('rate limits: too many blocked keys to keep in memory; checking them in the database for now', { max: MAX_ENTRIES });
  const limitOf = (key: string) => limits.get(key.slice(0, key.indexOf(':')));
  const add = (key: string, expire: number, now: number): boolean => {
    if (expire <= now) return false;
    if (!entries.has(key) && entries.size >= MAX_ENTRIES) {
      for (const [k, until] of entries) if (until <= now) entries.delete(k);
      if (entries.size >= MAX_ENTRIES) {
        // Dropping one would lift its block; instead this process stops trusting the list.
        tooMany();
        entries.clear();
        loaded = false;
        generation++;
        scheduleLoad();
      }
    }
    entries.set(key, Math.max(expire, entries.get(key) ?? 0));
    return true;
  };

  const load = async () => {
    const started = generation;
    reload = undefined;
    const now = Date.now();
    const named = [...limits.values()];
    try {
      const { rows } = await pool.query<{ key: string; expire: string | null }>({
        name: 'rate-limit-blocked-keys',
        text: `SELECT key, expire FROM "RateLimit" WHERE (expire > $1 OR expire IS NULL) AND (${named.map((l, i) => `(left(key, ${l.name.length + 1}) = $${2 * i + 2} AND points >= $${2 * i + 3})`).join(' OR ')}) LIMIT ${MAX_ENTRIES + 1}`,
        values: [now, ...named.flatMap((l) => [`${l.name}:`, l.points])],
      });
      if (started !== generation || !listening || closed) return;
      if (rows.length > MAX_ENTRIES) {
        tooMany();
        return scheduleLoad();
      }
      for (const row of rows) add(memoryKey(row.key), row.expire === null ? now + limitOf(row.key)!.durationMs : Number(row.expire), now);
      if (started === generation) loaded = true;
      scheduleLoad(); // for blocks whose announcement never came
    } catch (err) {
      if (started !== generation || !listening || closed) return;
      log.warn('rate limits: cannot load the blocked keys; checking them in the database for now', { error: err instanceof Error ? err.message : String(err) });
      scheduleLoad();
    }
  };
  const scheduleLoad = () => {
    if (!closed && listening && !reload) reload = setTimeout(() => void load(), reloadMs).unref();
  };

  const unsubscribe = await deps.notifications.subscribe(BLOCKED_CHANNEL, {
    // Anyone with access to the database can send on the channel: a message can only add a
    // block of one of our limits, for at most that limit's window, and is confirmed in the
    // table before it refuses anyone.
    message: (payload) => {
      const match = /^(\d{1,16}) (.+)$/s.exec(payload);
      const limit = match && match[2]!.length <= MAX_KEY_LENGTH ? limitOf(match[2]!) : undefined;
      if (!match || !limit) return;
      const now = Date.now();
      add(match[2]!, Math.min(Number(match[1]), now + limit.durationMs), now);
    },
    up: () => {
      listening = true;
      generation++;
      loaded = false;
      clearTimeout(reload);
      loading = load();
    },
    down: () => {
      listening = false;
      loaded = false;
      generation++;
    },
  });
  // `up` ran inside subscribe if the database was there: a process starts knowing the blocks.
  await loading;

  return {
    get known() {
      return listening && loaded;
    },
    until(storeKey, now) {
      const expire = entries.get(memoryKey(storeKey));
      return expire !== undefined && expire > now ? expire : undefined;
    },
    async block(storeKey, expire) {
      const key = memoryKey(storeKey);
      const before = entries.get(key);
      if (before !== undefined && before >= expire - 1000) return; // known, and told already
      if (!add(key, expire, Date.now())) return;
      await notify(pool, BLOCKED_CHANNEL, `${Math.trunc(expire)} ${key}`).catch((err: unknown) => {
        // The others then learn it from the table: each reads it before answering while its list is incomplete, and loads it on reconnect.
        log.warn('rate limits: cannot announce a blocked key to the other processes', { limit: limitOf(key)?.name, error: err instanceof Error ? err.message : String(err) });
      });
    },
    lifted(storeKey, seenUntil) {
      const key = memoryKey(storeKey);
      if (entries.get(key) === seenUntil) entries.delete(key);
    },
    async close() {
      closed = true;
      listening = false;
      clearTimeout(reload);
      entries.clear();
      await unsubscribe();
    },
  };
}

/** `<limit>:<key>` as the table has it, or with the key hashed when long (same rule for every process). */
function memoryKey(storeKey: string): string {
  if (storeKey.length <= MAX_KEY_LENGTH) return storeKey;
  const colon = storeKey.indexOf(':');
  return `${storeKey.slice(0, colon)}:sha256:${createHash('sha256').update(storeKey.slice(colon + 1)).digest('base64url')}`;
}
