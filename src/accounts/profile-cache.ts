import type { Db } from '../db/client.ts';
import type { Notifications } from '../db/notifications.ts';
import type { AccountProfile } from './profile.ts';
import { findAccountProfile } from './repository.ts';

/**
 * Account profiles (what claims are made of) kept in memory for `ttlSeconds`: one login
 * asks for them at the code, token and userinfo steps, and each ask was a statement.
 *
 * Invalidation, in every process at once: triggers on Account and Identity
 * (prisma/migrations/20261122200200_account_change_notify) NOTIFY the account id at
 * commit of any write that changes claims or standing (disable, merge, unlink, link,
 * primary email, a new upstream profile), whoever made it; each process LISTENs
 * (db/notifications.ts) and drops that account. Nothing is cached while that connection is down
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

export async function openProfileCache(db: Db, ttlSeconds: number, notifications: Notifications): Promise<ProfileCache> {
  const load = (accountId: string) => findAccountProfile(db, accountId);
  if (ttlSeconds <= 0) return { find: load, close: async () => {} };

  const entries = new Map<string, { profile: AccountProfile; until: number }>();
  // Bumped by every notification and every change of the channel: a read begun before it is not stored.
  let epoch = 0;
  let listening = false;
  const forgetAll = () => {
    epoch++;
    entries.clear();
  };
  const unsubscribe = await notifications.subscribe(ACCOUNT_CHANGED_CHANNEL, {
    message: (accountId) => {
      epoch++;
      entries.delete(accountId);
    },
    // A read begun while down may predate a change nobody told us about.
    up: () => {
      epoch++;
      listening = true;
    },
    down: () => {
      listening = false;
      forgetAll();
    },
  });

  return {
    async find(accountId) {
      const now = Date.now();
      const hit = entries.get(accountId);
      if (hit && hit.until > now && listening) return hit.profile;
      const before = epoch;
      const profile = await load(accountId);
      if (profile && listening && epoch === before) {
        entries.delete(accountId);
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
        entries.set(accountId, { profile, until: now + ttlSeconds * 1000 });
      }
      return profile;
    },
    async close() {
      listening = false;
      forgetAll();
      await unsubscribe();
    },
  };
}
