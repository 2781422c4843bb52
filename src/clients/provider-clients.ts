import type Provider from 'oidc-provider';
import type { Adapter, AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { ClientEntry } from './client-entry.ts';
import type { ClientRegistry } from './registry.ts';
import { isClientSecretValid } from './secret.ts';
import { clientClaimsMetadata } from '../claims/client-claims.ts';
import { TOKEN_EXCHANGE_GRANT, UPSTREAM_TOKENS_METADATA } from '../token-vault/allowance.ts';

/**
 * How oidc-provider meets the clients of the registry. Config clients are its static
 * `clients`; database clients reach it through its intended seam for clients kept
 * elsewhere, the adapter's `Client` model: oidc-provider calls `find(client_id)` on every
 * request naming a client that is not static, and caches the built Client by a hash of the
 * metadata returned (lib/models/client.js), so an edit or a delete takes effect as soon
 * as the registry has it.
 */

/** oidc-provider metadata of a client; `secret` is the config's secret, or a database client's hash. */
/**
 * `tokenExchange`: the token-exchange grant is on (some upstream keeps tokens); every app
 * then holds it, so one without upstreamTokens hears unauthorized_client (token-vault/exchange-grant.ts).
 */
export function toClientMetadata(c: ClientEntry, secret: string | undefined, extra: Record<string, unknown>, tokenExchange: boolean): ClientMetadata {
  return {
    ...extra,
    client_id: c.clientId,
    client_name: c.name ?? c.clientId,
    // Database clients: only client_secret_basic, never client_secret_jwt (their secret is kept hashed).
    ...(secret ? { client_secret: secret, token_endpoint_auth_method: 'client_secret_basic' } : { token_endpoint_auth_method: 'none' }),
    redirect_uris: [...c.redirectUris],
    post_logout_redirect_uris: [...c.postLogoutRedirectUris],
    ...(c.backchannelLogoutUri ? { backchannel_logout_uri: c.backchannelLogoutUri, backchannel_logout_session_required: c.backchannelLogoutSessionRequired } : {}),
    grant_types: [...c.grantTypes, ...(tokenExchange ? [TOKEN_EXCHANGE_GRANT] : [])],
    [UPSTREAM_TOKENS_METADATA]: c.upstreamTokens.map((a) => ({ upstream: a.upstream, scopes: [...a.scopes] })),
    // What the client may ask for; `admin` only when the operator allowed it.
    scope: ['openid', 'offline_access', 'email', 'profile', 'groups', ...(c.adminApi ? ['admin'] : [])].join(' '),
    response_types: c.grantTypes.includes('authorization_code') ? ['code'] : [],
    ...clientClaimsMetadata(c),
    require_pushed_authorization_requests: c.requirePushedAuthorizationRequests,
    dpop_bound_access_tokens: c.dpopBoundAccessTokens,
    ...(c.defaultAcrValues.length ? { default_acr_values: [...c.defaultAcrValues] } : {}),
  };
}

/** The adapter factory, with the `Client` model answered from the registry's database clients. */
export function withDatabaseClients(adapter: (model: string) => Adapter, clients: ClientRegistry, tokenExchange: boolean): (model: string) => Adapter {
  return (model) => {
    const inner = adapter(model);
    if (model !== 'Client') return inner;
    return Object.assign(Object.create(inner) as Adapter, {
      async find(id: string): Promise<AdapterPayload | undefined> {
        const c = clients.getDatabaseClient(id);
        return c ? (toClientMetadata(c, c.secretHash ?? undefined, c.metadata, tokenExchange) as AdapterPayload) : undefined;
      },
    });
  };
}

/**
 * oidc-provider compares a presented client_secret with the stored one in
 * `Client#compareClientSecret` (lib/shared/client_auth.js, client_secret_basic and _post).
 * A database client holds only a hash there, so the presented secret is hashed first;
 * config clients keep oidc-provider's own comparison.
 */
export function compareHashedSecrets(provider: Provider, clients: ClientRegistry): void {
  const compare = provider.Client.prototype.compareClientSecret;
  provider.Client.prototype.compareClientSecret = function compareClientSecret(actual: string) {
    const c = clients.getDatabaseClient(this.clientId);
    if (c) return c.secretHash !== null && this.clientSecret === c.secretHash && isClientSecretValid(actual, c.secretHash);
    return compare.call(this, actual);
  };
}
