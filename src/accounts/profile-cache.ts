import pg from 'pg';
import { poolOf, type Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import type { AccountProfile } from './profile.ts';
import { findAccountProfile } from './repository.ts';

/**
 * Account profiles (what claims are made of) kept in memory for `ttlSeconds`: one login
 * asks for them at the code, token and userinfo steps, and each ask was a statement.
 *
 * Invalidation, in every process at once: triggers on Account and Identity
 * (prisma/migrations/20261122200200_account_change_notify) NOTIFY the account id at
 * commit of any write that changes claims or standing (disable, merge, unlink, link,
 * primary email, a new upstream profile), whoever made it; each process LISTENs on its own
 * connection and drops that account. Nothing is cached while that connection is down
 * (everything cached is dropped when it breaks), and a read that was under way when a
 * notification came is not stored, so a cached profile is never older than the last
 * notification this process received. Disabled and unknown accounts are not cached.
 */
export interface ProfileCache {
  find(accountId: string): Promise<AccountProfile | undefined>;
  close(): Promise<void>;
}

export const ACCOUNT_CHANGED_CHANNEL = 'doorman_account_changed';
/** Bounds memory: beyond it the oldest entry goes. ~1 KB each. */
const MAX_ENTRIES = 10_000;
const RECONNECT_MS = 1000;

export async function openProfileCache(db: Db, ttlSeconds: number, log: Logger): Promise<ProfileCache> {
  const load = (accountId: string) => findAccountProfile(db, accountId);
  if (ttlSeconds <= 0) return { find: load, close: async () => {} };

  const entries = new Map<string, { profile: AccountProfile; until: number }>();
  // Bumped by every notification and every loss of the channel: a read begun before it is not stored.
  let epoch = 0;
  let listener: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const forgetAll = () => {
    epoch++;
    entries.clear();
  };
  const listen = async (): Promise<void> => {
    // Its own connection, with the pool's settings: LISTEN holds a session, a pooled one would be handed to others.
    const client = new pg.Client({ ...poolOf(db).options, application_name: 'doorman claims cache' });
    const lost = () => {
      if (listener !== client) return;
      listener = undefined;
      forgetAll();
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      if (!closed) retry = setTimeout(() => void listen(), RECONNECT_MS).unref();
    };
    let prefix = '';
    client.on('notification', (msg) => {
      if (!msg.payload?.startsWith(prefix)) return; // another installation in the same database
      epoch++;
      entries.delete(msg.payload.slice(prefix.length));
    });
    client.on('error', (err) => {
      log.warn('claims cache: account change channel lost; not caching until it is back', { error: err });
      lost();
    });
    client.on('end', lost);
    try {
      await client.connect();
      prefix = `${(await client.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]!.schema}:`;
      await client.query(`LISTEN ${ACCOUNT_CHANGED_CHANNEL}`);
      if (closed) return void await client.end();
      listener = client;
    } catch (err) {
      client.removeAllListeners('end');
      void client.end().catch(() => {});
      log.warn('claims cache: cannot listen for account changes; not caching until it can', { error: err });
      if (!closed) retry = setTimeout(() => void listen(), RECONNECT_MS).unref();
    }
  };
  await listen();

  return {
    async find(accountId) {
      const now = Date.now();
      const hit = entries.get(accountId);
      if (hit && hit.until > now && listener) return hit.profile;
      const before = epoch;
      const profile = await load(accountId);
      if (profile && listener && epoch === before) {
        entries.delete(accountId);
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
        entries.set(accountId, { profile, until: now + ttlSeconds * 1000 });
      }
      return profile;
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      const client = listener;
      listener = undefined;
      forgetAll();
      await client?.end().catch(() => {});
    },
  };
}
