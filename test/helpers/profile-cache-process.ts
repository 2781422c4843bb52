import { openProfileCache } from '../../src/accounts/profile-cache.ts';
import { createDb, poolOf } from '../../src/db/client.ts';
import { openNotifications } from '../../src/db/notifications.ts';
import { createLogger } from '../../src/log.ts';

/**
 * A second process holding its own claims cache (accounts/profile-cache.ts) on
 * DATABASE_URL, as another Doorman process would: answers {find: accountId} over IPC
 * with {profile}, and ends on {close: true}.
 */
const db = createDb(process.env.DATABASE_URL!, 2);
const cache = await openProfileCache(db, Number(process.env.CLAIMS_CACHE_SECONDS), openNotifications(poolOf(db), createLogger('silent')));
process.on('message', (msg: { find?: string; close?: boolean }) => {
  if (msg.close) {
    void cache.close().then(() => db.$disconnect()).then(() => process.exit(0));
    return;
  }
  void cache.find(msg.find!).then((profile) => process.send!({ profile: profile ?? null }));
});
process.send!({ ready: true });
