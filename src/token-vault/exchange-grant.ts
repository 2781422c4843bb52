import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { findAccountState } from '../accounts/repository.ts';
import type { UpstreamSettings } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import { allowanceOf, TOKEN_EXCHANGE_GRANT } from './allowance.ts';
import type { TokenVault } from './vault.ts';

/**
 * Token exchange (RFC 8693) for upstream tokens: an app trades the person's Doorman access
 * token (its own) for the person's current access token at an upstream it is allowed
 * (clients[].upstreamTokens). Which error when (RFC 8693 §2.2.2, RFC 6749 §5.2):
 *   unauthorized_client  the client has no upstreamTokens at all
 *   invalid_request      a parameter missing, repeated where it may not be, or of an unsupported kind
 *   invalid_target       no upstream named, several, or one this client may not get tokens for
 *   invalid_grant        subject_token not an active access token of this client, or the person's
 *                        upstream tokens are gone (never stored, unlinked, refresh refused)
 *   invalid_scope        asked for, or the stored token carries, scopes outside the client's allowance
 *   temporarily_unavailable (503)  the upstream could not refresh the token now
 */
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const PARAMETERS = ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'requested_issuer', 'scope', 'actor_token', 'actor_token_type'];

export function registerTokenExchange(provider: Provider, deps: { db: Db; vault: TokenVault; upstreams: readonly UpstreamSettings[] }): void {
  // audience and resource may repeat (RFC 8693 §2.1); several targets are refused below with invalid_target.
  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, (ctx) => exchange(provider, deps, ctx), PARAMETERS, ['audience', 'resource']);
}

async function exchange(provider: Provider, deps: { db: Db; vault: TokenVault; upstreams: readonly UpstreamSettings[] }, ctx: KoaContextWithOIDC): Promise<void> {
  const client = ctx.oidc.client!;
  const params = ctx.oidc.params as Record<string, string | string[] | undefined>;
  const allowance = allowanceOf(client);
  if (!allowance.length) throw new errors.UnauthorizedClient('this client may not exchange tokens (it has no upstreamTokens)');

  const single = (name: string) => {
    const value = params[name];
    if (Array.isArray(value)) throw new errors.InvalidRequest(`${name} must be given once`);
    return value || undefined;
  };
  const subjectToken = single('subject_token');
  if (!subjectToken) throw new errors.InvalidRequest('subject_token is missing');
  if (single('subject_token_type') !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE} (a Doorman access token)`);
  const requested = single('requested_token_type');
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  if (single('actor_token') || single('actor_token_type')) throw new errors.InvalidRequest('delegation (actor_token) is not supported');

  const upstream = targetUpstream(deps.upstreams, params);
  const allowed = allowance.find((a) => a.upstream === upstream);
  // One answer for unknown and not allowed: a client learns nothing about upstreams it may not use.
  if (!allowed) throw new errors.InvalidTarget('not an upstream this client may get tokens for');
  const wanted = (single('scope') ?? '').split(' ').filter(Boolean);
  const notAllowed = wanted.filter((s) => !allowed.scopes.includes(s));
  if (notAllowed.length) throw new errors.InvalidScope(`scope not allowed for this client at ${upstream}: ${notAllowed.join(' ')}`, notAllowed.join(' '));

  // The subject token: an active access token issued to this very client (a client exchanges only its own tokens).
  const token = await provider.AccessToken.find(subjectToken);
  // oidc-provider's generic description ("grant request is invalid"); the reason goes to the debug log only.
  const refused = new errors.InvalidGrant('subject_token is not an active access token of this client');
  if (!token || token.clientId !== client.clientId || !token.accountId || !token.grantId) throw refused;
  // A token issued for one of your APIs (RFC 8707 `aud`) is for that API only, not for Doorman.
  if (token.aud !== undefined) throw refused;
  // A sender-constrained token proves possession only with its key; this grant does not check that proof.
  if (token.isSenderConstrained()) throw new errors.CustomOIDCProviderError('invalid_grant', 'sender-constrained (DPoP, mTLS) subject tokens are not accepted');
  const grant = await provider.Grant.find(token.grantId);
  if (!grant || grant.isExpired || grant.clientId !== client.clientId || grant.accountId !== token.accountId) throw refused;
  const account = await findAccountState(deps.db, token.accountId);
  if (!account || account.disabledAt || account.retiredAt) throw refused;

  const answer = await deps.vault.currentToken({ accountId: token.accountId, upstream, clientId: client.clientId });
  switch (answer.kind) {
    case 'none':
      throw new errors.CustomOIDCProviderError('invalid_grant', `no ${upstream} tokens are stored for this person: they must sign in with ${upstream} (again)`);
    case 'revoked':
      throw new errors.CustomOIDCProviderError('invalid_grant', `the person's ${upstream} authorization is no longer valid (${answer.detail}): they must sign in with ${upstream} again`);
    case 'unreadable':
      throw new errors.CustomOIDCProviderError('invalid_grant', `the stored ${upstream} tokens cannot be decrypted (their tokenVault key is no longer configured): the person must sign in with ${upstream} again`);
    case 'unavailable': {
      const err = new errors.TemporarilyUnavailable(`${upstream} could not refresh the token now (${answer.error.code}); try again later`);
      Object.assign(err, { status: 503, statusCode: 503 });
      throw err;
    }
    case 'token':
      break;
  }
  const granted = answer.scope.split(' ').filter(Boolean);
  // An upstream access token cannot be narrowed: hand it out only when the client may hold all it can do.
  const beyond = granted.filter((s) => !allowed.scopes.includes(s));
  if (beyond.length) throw new errors.InvalidScope(`the ${upstream} token carries scopes this client may not hold: ${beyond.join(' ')}`, beyond.join(' '));
  const missing = wanted.filter((s) => !granted.includes(s));
  if (missing.length) throw new errors.InvalidScope(`the person's ${upstream} token does not carry: ${missing.join(' ')}`, missing.join(' '));

  ctx.body = {
    access_token: answer.accessToken,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    ...(answer.expiresAt ? { expires_in: Math.max(0, Math.floor((answer.expiresAt.getTime() - Date.now()) / 1000)) } : {}),
    scope: answer.scope,
  };
}

/**
 * The upstream an exchange is for, named as RFC 8693 §2.1 intends: `audience` is a logical
 * name (the upstream id); `resource` a URI (the upstream's issuer, or its base URL for
 * OAuth2-only upstreams); `requested_issuer` is Keycloak's name for the upstream id.
 */
function targetUpstream(upstreams: readonly UpstreamSettings[], params: Record<string, string | string[] | undefined>): string {
  const list = (name: string) => [params[name] ?? []].flat().filter(Boolean);
  const named = new Set([...list('audience'), ...list('requested_issuer')]);
  for (const uri of list('resource')) {
    const matches = upstreams.filter((u) => upstreamResourceUri(u) === uri.replace(/\/$/, ''));
    if (matches.length !== 1) throw new errors.InvalidTarget(matches.length ? 'this resource names several upstreams: use audience=<upstream id>' : 'not an upstream this client may get tokens for');
    named.add(matches[0]!.id);
  }
  if (named.size === 0) throw new errors.InvalidTarget('name the upstream: audience=<upstream id>');
  if (named.size > 1) throw new errors.InvalidTarget('one upstream per exchange');
  return [...named][0]!;
}

/** The URI that names an upstream as a `resource`. */
export function upstreamResourceUri(u: UpstreamSettings): string {
  switch (u.type) {
    case 'google':
    case 'oidc': return u.issuer.replace(/\/$/, '');
    case 'github': return u.baseUrl.replace(/\/$/, '');
    case 'facebook': return u.graphUrl.replace(/\/$/, '');
    case 'oauth2': return new URL(u.authorizationUrl).origin;
  }
}
