import type { UpstreamAuthentication } from '../upstreams/connector.ts';

/**
 * What Doorman's ID token says about how the person authenticated (OIDC Core §2 `amr`,
 * `acr`), and which upstreams can give an app the `acr` it requires. Pure; wired into
 * oidc-provider by acr-check.ts (authorization) and interactions/sign-in.ts (login result).
 *
 * Doorman's rule, stricter than OIDC's "voluntary" acr_values (OIDC Core §3.1.2.1): an
 * `acr_values` request (or the client's `default_acr_values`) is a requirement. An app that
 * asks for `mfa` and does not check the `acr` it got back must not receive a weaker login.
 */

/** The acr values an authorization request requires; oidc-provider has already put in the client's default_acr_values. */
export function requiredAcrValues(params: Record<string, unknown>): string[] {
  return typeof params.acr_values === 'string' ? params.acr_values.split(' ').filter(Boolean) : [];
}

/** True when an upstream asserting `upstreamAcrValues` can meet `required` (anything meets nothing). */
export function canSatisfy(upstreamAcrValues: readonly string[], required: readonly string[]): boolean {
  return required.length === 0 || required.some((v) => upstreamAcrValues.includes(v));
}

/** The `acr_values` to ask an upstream for: the required ones it can assert, in the app's order of preference. */
export function acrValuesToAsk(upstreamAcrValues: readonly string[], required: readonly string[]): string[] {
  return required.filter((v) => upstreamAcrValues.includes(v));
}

/** `unmet` is for the log; the app is told in fixed words (sign-in.ts). */
export type LoginAuthentication = { amr: string[]; acr?: string } | { unmet: string };

/**
 * `amr` and `acr` of oidc-provider's login result: always `fed` (the person authenticated
 * at a federated upstream), then the upstream's own `amr` (e.g. `mfa`); the upstream's `acr`
 * as it asserted it. When the app required acr values and the upstream's `acr` is not one of
 * them, the login does not count (OIDC Core §5.5.1.1: a failed authentication).
 */
export function loginAuthentication(upstream: UpstreamAuthentication | undefined, required: readonly string[]): LoginAuthentication {
  const amr = [...new Set(['fed', ...(upstream?.amr ?? [])])];
  const acr = upstream?.acr;
  if (required.length && (!acr || !required.includes(acr))) {
    return { unmet: `the upstream asserted ${acr ? `acr ${acr}` : 'no acr'}, the app requires one of: ${required.join(' ')}` };
  }
  return acr ? { amr, acr } : { amr };
}
