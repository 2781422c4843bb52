import { CookieSigner } from '../http/cookie-signer.ts';
import type { JWK } from 'jose';
import type Provider from 'oidc-provider';
import type { Config } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import type { SigningAlgorithm } from './generate.ts';
import { installSigningKeys } from './provider-keystore.ts';
import { settleKeys, type KeyPolicies, type KeySet } from './repository.ts';
import type { KeyRecord } from './rotation.ts';

export interface ProviderKeys {
  /** Private signing JWKs, current first; oidc-provider publishes their public parts at /jwks. */
  jwks: { keys: JWK[] };
  /** Cookie signing secrets, current first (keygrip signs with the first, accepts all). */
  cookieKeys: string[];
}

/**
 * One process's view of the deployment's keys (src/keys/rotation.ts has the states).
 * It re-reads them every `keys.refreshSeconds`, rotates them when due (whichever process
 * notices first; the others see the result), and hands changes to the running provider,
 * so every process signs with the same key within one refresh interval, without a restart.
 */
export interface KeyRing {
  /** The keys now. `cookieKeys` is one array, updated in place, that the provider and CSRF read per request. */
  readonly keys: ProviderKeys;
  /** Gives key changes to `provider` from now on, and starts the periodic refresh. */
  attach(provider: Provider): void;
  /** Re-reads (and rotates when due) now. Never throws: a failure is logged and the keys stay. */
  refresh(): Promise<void>;
  close(): void;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * How long a key of each kind is current, and how long it verifies afterwards: until
 * everything it signed has expired, plus two refresh intervals for processes that had
 * not yet seen the rotation and kept signing with it.
 */
export function keyPolicies(config: Config, atStart: boolean): KeyPolicies {
  const rotateEveryMs = config.keys.rotationDays * DAY_MS;
  const lag = 2 * config.keys.refreshSeconds;
  const { ttl } = config;
  return {
    algorithm: config.keys.algorithm as SigningAlgorithm,
    signing: {
      rotateEveryMs,
      // ID tokens, and APIs' JWT access tokens (resourceServers); also the session, because an
      // app sends its (long expired) ID token back as id_token_hint at logout, which
      // oidc-provider verifies ignoring exp (OIDC RP-Initiated Logout 1.0 §2).
      keepPreviousMs: (Math.max(ttl.idToken, ttl.accessToken, ttl.session, ...config.resourceServers.map((r) => r.accessTokenLifetime)) + lag) * 1000,
      // Only at start: two processes briefly running different configs (a rolling restart
      // after changing keys.algorithm) must not take turns replacing the current key.
      ...(atStart ? { algorithm: config.keys.algorithm } : {}),
    },
    cookies: { rotateEveryMs, keepPreviousMs: (Math.max(ttl.session, ttl.interaction) + lag) * 1000 },
  };
}

/** Current first, then next (so processes that have not refreshed yet already accept it), then previous, newest first. */
function inUse<K extends KeyRecord>(keys: K[]): K[] {
  const rank = { current: 0, next: 1, previous: 2, retired: 3 } as const;
  return keys.filter((k) => k.state !== 'retired').sort((a, b) => rank[a.state] - rank[b.state]);
}

export function providerKeysOf(keys: KeySet): ProviderKeys {
  return { jwks: { keys: inUse(keys.signing).map((k) => k.jwk) }, cookieKeys: inUse(keys.cookies).map((c) => c.secret) };
}

function fingerprint(keys: ProviderKeys): string {
  return JSON.stringify([keys.jwks.keys.map((k) => k.kid), keys.cookieKeys]);
}

export async function openKeyRing({ db, config, log, now = () => new Date() }: { db: Db; config: Config; log: Logger; now?: () => Date }): Promise<KeyRing> {
  const first = await settleKeys(db, keyPolicies(config, true), now());
  const keys = providerKeysOf(first.keys);
  const policies = keyPolicies(config, false);
  let seen = fingerprint(keys);
  let provider: Provider | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const apply = (fresh: ProviderKeys) => {
    if (provider) installSigningKeys(provider, fresh.jwks);
    keys.jwks = fresh.jwks;
    keys.cookieKeys.splice(0, keys.cookieKeys.length, ...fresh.cookieKeys);
    seen = fingerprint(fresh);
    log.info('keys changed', { signingKid: fresh.jwks.keys[0]?.kid, published: fresh.jwks.keys.map((k) => k.kid) });
  };
  const refreshOnce = async () => {
    try {
      const settled = await settleKeys(db, policies, now());
      if (settled.changed) log.info('rotated the keys that were due');
      const fresh = providerKeysOf(settled.keys);
      if (fingerprint(fresh) !== seen) apply(fresh);
    } catch (err) {
      log.warn('key refresh failed; keeping the keys in use', { error: err });
    }
  };

  // One refresh at a time per process; a caller during one waits for it.
  const refresh = () => {
    running ??= refreshOnce().finally(() => { running = undefined; });
    return running;
  };

  return {
    keys,
    refresh,
    attach(p) {
      provider = p;
      // Koa hands app.keys to each request's cookies; the signer reads the array on each
      // call, so replacing its contents (apply) rotates the cookie secrets at once.
      p.keys = new CookieSigner(keys.cookieKeys) as unknown as string[];
      timer = setInterval(() => void refresh(), config.keys.refreshSeconds * 1000);
      timer.unref();
    },
    close() {
      clearInterval(timer);
    },
  };
}
