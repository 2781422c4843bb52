// Two internal modules of oidc-provider 9 (no `exports` map, so they are importable);
// src/keys/provider-keystore.ts says why and how their use is guarded.
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  /** Builds the provider's keystore and published JWKS from `jwks`; `this` is the provider. */
  export default function initializeKeystore(this: object, jwks: { keys: object[] }): void;
}
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  /** The provider's private state. */
  export default function instance(provider: object): { jwks?: { keys: { kid?: string }[] } } | undefined;
}
