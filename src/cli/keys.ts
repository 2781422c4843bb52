import type { Config } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import { keyPolicies } from '../keys/key-ring.ts';
import { describeKeys } from '../keys/describe.ts';
import { readKeys, retireKeyNow, settleKeys } from '../keys/repository.ts';
import { cliActor } from './actor.ts';

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
      const { keys } = await settleKeys(db, keyPolicies(config, false), now, true, cliActor());
      const current = keys.signing.find((k) => k.state === 'current')!;
      out(`rotated: signing key ${current.id} (${current.alg}) and a new cookie secret are current; running Doorman processes switch within ${config.keys.refreshSeconds} s`);
      return 0;
    }
    case 'retire': {
      if (!args[1]) break;
      const outcome = await retireKeyNow(db, args[1], cliActor());
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
