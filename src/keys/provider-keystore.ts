import type { JWK } from 'jose';
import type Provider from 'oidc-provider';
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

/**
 * Replaces the signing keys of a running provider.
 *
 * oidc-provider 9 takes `jwks` only at construction, and its author's answer to runtime
 * rotation is a rolling restart (panva/node-oidc-provider#651). What it does with `jwks`
 * is one function, lib/helpers/initialize_keystore.js: validate each key, build the
 * keystore, and derive the published JWKS, both kept in the provider's private state.
 * Every use reads that state per request (lib/actions/jwks.js, lib/models/id_token.js
 * sign and validate, lib/models/formats/jwt.js), so running the same function again swaps
 * the keys for the next request, with the library's own validation. The alternative,
 * building a new Provider and re-wiring the app around it on every rotation, would touch
 * every module that holds the provider.
 *
 * Internal modules can change in any release: the swap is checked each time (the published
 * kids must be the ones given) and fails loudly rather than leave a stale keystore unnoticed;
 * test/e2e/key-rotation.test.ts exercises it on every upgrade.
 */
export function installSigningKeys(provider: Provider, jwks: { keys: JWK[] }): void {
  initializeKeystore.call(provider, jwks);
  const published = instance(provider)?.jwks?.keys.map((k) => k.kid);
  const wanted = jwks.keys.map((k) => k.kid);
  if (JSON.stringify(published) !== JSON.stringify(wanted)) {
    throw new Error('oidc-provider did not take the new signing keys: its internal keystore module changed; pin the previous oidc-provider version');
  }
}
