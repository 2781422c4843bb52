import type { Config } from '../config/load.ts';
import { keyPolicies } from './key-ring.ts';
import type { KeySet } from './repository.ts';
import type { KeyRecord } from './rotation.ts';

/** The keys as `doorman keys list` and the console show them: states and times, never private material. */
export function describeKeys(keys: KeySet, config: Config) {
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
