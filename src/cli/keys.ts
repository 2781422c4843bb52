import type { Config } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import { keyPolicies } from '../keys/key-ring.ts';
import { readKeys, retireKeyNow, settleKeys, type KeySet } from '../keys/repository.ts';
import type { KeyRecord } from '../keys/rotation.ts';

/**
 * `doorman keys ...`: see and rotate the signing keys and cookie secrets, on the database
 * a running Doorman uses. Running processes pick the change up within keys.refreshSeconds.
 */
export const KEYS_USAGE = `usage: doorman keys <command>
  list     signing keys and cookie secrets with their state (JSON; no private material)
  rotate   now: next becomes current, current becomes previous, a fresh next is made
  retire <id>   stop publishing and accepting a previous or next key now (one that may have leaked; rotate first if it is current)`;

export async function runKeysCommand(db: Db, config: Config, args: string[], out: (line: string) => void, now = new Date()): Promise<number> {
  switch (args[0]) {
    case 'list':
      out(JSON.stringify(describeKeys(await readKeys(db), config), null, 2));
      return 0;
    case 'rotate': {
      const { keys } = await settleKeys(db, keyPolicies(config, false), now, true);
      const current = keys.signing.find((k) => k.state === 'current')!;
      out(`rotated: signing key ${current.id} (${current.alg}) and a new cookie secret are current; running Doorman processes switch within ${config.keys.refreshSeconds} s`);
      return 0;
    }
    case 'retire': {
      if (!args[1]) break;
      const outcome = await retireKeyNow(db, args[1]);
      if (outcome !== 'retired') {
        out(`refused: ${outcome}`);
        return 3;
      }
      out(`retired ${args[1]}; running Doorman processes stop using it within ${config.keys.refreshSeconds} s`);
      return 0;
    }
  }
  out(KEYS_USAGE);
  return 2;
}

function describeKeys(keys: KeySet, config: Config) {
  const policies = keyPolicies(config, false);
  const row = (k: KeyRecord, keepPreviousMs: number) => ({
    id: k.id,
    state: k.state,
    createdAt: k.createdAt,
    activatedAt: k.activatedAt,
    deactivatedAt: k.deactivatedAt,
    ...(k.state === 'current' ? { rotatesAt: new Date((k.activatedAt ?? k.createdAt).getTime() + policies.signing.rotateEveryMs) } : {}),
    ...(k.state === 'previous' ? { retiresAt: new Date((k.deactivatedAt ?? k.createdAt).getTime() + keepPreviousMs) } : {}),
  });
  return {
    signing: keys.signing.map((k) => ({ ...row(k, policies.signing.keepPreviousMs), alg: k.alg })),
    cookies: keys.cookies.map((k) => row(k, policies.cookies.keepPreviousMs)),
  };
}
