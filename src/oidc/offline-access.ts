import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { ClientIdSet } from '../clients/registry.ts';

/**
 * When an app that may use the refresh_token grant asks for `offline_access`, it gets a
 * refresh token without having to add `prompt=consent`, as with Dex and Keycloak.
 *
 * OIDC Core §11 says the OP must obtain consent before returning a refresh token for
 * offline access, and that the app must send prompt=consent "unless other conditions for
 * processing the request permitting offline access to the requested resources are in
 * place". oidc-provider implements only the first way: its checkScope
 * (lib/actions/authorization/scopes.js) silently drops offline_access from a request whose
 * prompt lacks consent, so tutorial-style apps (Authlib, mod_auth_openidc) that just add the
 * scope never get a refresh token. Doorman's other conditions are:
 *  - the app is first-party (the operator's own, whose grants are given without a page), or
 *  - the person consented to offline_access for this app before (a remembered consent), or
 *  - the person consents now: the consent page lists offline access among what is asked.
 * So the scope is kept, and oidc-provider's consent check does the rest: a third-party app
 * without that consent gets the consent page naming offline access. With prompt=none no
 * page can be shown, so the scope is kept only when no consent is needed.
 */

/** True when the app's own request (before oidc-provider filtered it) asked for offline_access. */
export function askedForOfflineAccess(ctx: KoaContextWithOIDC): boolean {
  const raw = ctx.oidc.route === 'authorization'
    ? (ctx.method === 'POST' ? ctx.oidc.body : ctx.query)?.scope
    // On resume the parameters are the ones stored with the interaction, already decided.
    : ctx.oidc.params?.scope;
  return typeof raw === 'string' && raw.split(' ').includes('offline_access');
}

/** True when the client may receive refresh tokens from this authorization request. */
export function mayGetOfflineAccess(ctx: KoaContextWithOIDC): boolean {
  const { client, params } = ctx.oidc;
  // The same conditions as oidc-provider's checkScope, plus the client's allowed scopes (which it checks only after dropping offline_access).
  return !!client?.grantTypeAllowed('refresh_token') && (client.scope === undefined || client.scope.split(' ').includes('offline_access'))
    && typeof params?.response_type === 'string' && params.response_type.split(' ').includes('code');
}

/**
 * A check for oidc-provider's login prompt that never asks for anything: it puts back the
 * offline_access scope checkScope dropped, before the consent checks run and before the
 * request parameters are stored with the interaction (so the resumed request keeps it).
 */
export function keepOfflineAccessCheck(firstParty: ClientIdSet): interactionPolicy.Check {
  return new interactionPolicy.Check('offline_access_kept', 'offline_access asked without prompt=consent', (ctx) => {
    const params = ctx.oidc.params;
    if (!params || ctx.oidc.route !== 'authorization' || ctx.oidc.requestParamScopes.has('offline_access')) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    if (!askedForOfflineAccess(ctx) || !mayGetOfflineAccess(ctx)) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    const silent = ctx.oidc.prompts.has('none');
    const consented = firstParty.has(ctx.oidc.client!.clientId) || !!ctx.oidc.grant?.getOIDCScope().split(' ').includes('offline_access');
    if (!silent || consented) params.scope = [...ctx.oidc.requestParamScopes, 'offline_access'].join(' ');
    return interactionPolicy.Check.NO_NEED_TO_PROMPT;
  });
}

/** oidc-provider's default interaction policy with the check above first. */
export function interactionPolicyKeepingOfflineAccess(firstParty: ClientIdSet): interactionPolicy.DefaultPolicy {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(keepOfflineAccessCheck(firstParty), 0);
  return policy;
}
