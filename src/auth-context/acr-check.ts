import { errors, interactionPolicy } from 'oidc-provider';
import { canSatisfy, requiredAcrValues } from './authentication-context.ts';

/**
 * A check of oidc-provider's login prompt for an authorization request that requires acr
 * values (authentication-context.ts):
 *  - the person's Doorman session has one of them: nothing to do (single sign-on, as for
 *    any other session);
 *  - else, none of the upstreams the app may use can assert one: the app gets
 *    `unmet_authentication_requirements` at its redirect URI at once (OpenID Connect Core
 *    Unmet Authentication Requirements 1.0), with no page shown that could only dead-end;
 *  - else a new login (with prompt=none, oidc-provider answers `login_required`).
 * `acrValuesOf(clientId)` lists, per upstream the app may use, that upstream's acrValues.
 */
export function acrRequirementCheck(acrValuesOf: (clientId: string) => readonly (readonly string[])[]): interactionPolicy.Check {
  return new interactionPolicy.Check('acr_values_unmet', 'the requested acr_values could not be obtained', 'login_required', (ctx) => {
    const required = requiredAcrValues(ctx.oidc.params ?? {});
    if (!required.length) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    const acr = ctx.oidc.session?.acr;
    if (acr && required.includes(acr)) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    if (!acrValuesOf(ctx.oidc.client!.clientId).some((upstream) => canSatisfy(upstream, required))) {
      // Fixed words: the request's own values are not echoed (RFC 6749 §4.1.2.1 limits error_description's characters).
      throw new errors.UnmetAuthenticationRequirements('no upstream this app may use can assert any of the requested acr values');
    }
    return interactionPolicy.Check.REQUEST_PROMPT;
  });
}

/** Adds the check to a policy's login prompt, after oidc-provider's own (a missing session already asks for a login). */
export function withAcrRequirement(policy: interactionPolicy.DefaultPolicy, acrValuesOf: (clientId: string) => readonly (readonly string[])[]): interactionPolicy.DefaultPolicy {
  policy.get('login')!.checks.add(acrRequirementCheck(acrValuesOf));
  return policy;
}
