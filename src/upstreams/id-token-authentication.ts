import type { UpstreamAuthentication } from './connector.ts';

/** RFC 8176 values are short tokens; anything else from an upstream is dropped, not passed on. */
const AMR_VALUE = /^[\x21-\x7E]{1,64}$/;
const MAX_AMR_VALUES = 16;

/**
 * `amr` and `acr` of the ID token openid-client verified (signature, iss, aud, nonce):
 * never userinfo's, which is unsigned here and merged under the ID token only for profile
 * claims. An `acr` is kept only when the operator listed it for this upstream, so one
 * upstream's "1" cannot pass for another's.
 */
export function authenticationOf(idToken: Record<string, unknown>, acrValues: readonly string[]): UpstreamAuthentication {
  const amr = Array.isArray(idToken.amr) ? [...new Set(idToken.amr.filter((v): v is string => typeof v === 'string' && AMR_VALUE.test(v)))].slice(0, MAX_AMR_VALUES) : [];
  const acr = typeof idToken.acr === 'string' && acrValues.includes(idToken.acr) ? idToken.acr : undefined;
  return acr ? { amr, acr } : { amr };
}
