import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { ClientRegistry } from '../clients/registry.ts';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/**
 * oidc-provider's `pkce.required(ctx, client)`, called for a code request that carries no
 * code_challenge. (A request that carries one is always enforced by oidc-provider: S256
 * only, and the code then needs the matching code_verifier at /token, so a challenge can
 * not be dropped half-way.)
 *
 * RFC 9700 §2.1.1: public clients MUST use PKCE. Confidential clients SHOULD, but an
 * OpenID Connect client may instead rely on the nonce, which binds the code's ID token to
 * the browser session that started the login. Many tutorial-style apps (Authlib's Flask
 * client, for one) send a nonce and no PKCE, so per client (`clients[].pkce`):
 *  - public client, or `pkce: required`: a code_challenge is required;
 *  - confidential client, `pkce: optional` (default): without a code_challenge the request
 *    must ask for `openid` and carry a `nonce`; anything else is refused, since a plain
 *    OAuth request without PKCE would have no protection against code injection at all.
 */
export function createPkcePolicy(clients: Pick<ClientRegistry, 'get'>) {
  return (ctx: KoaContextWithOIDC, client: Client): boolean => {
    const settings = clients.get(client.clientId);
    const optional = settings?.confidential === true && (settings.pkce ?? 'optional') === 'optional';
    if (client.clientAuthMethod === 'none' || !optional) return true;
    const params = ctx.oidc.params ?? {};
    const openid = typeof params.scope === 'string' && params.scope.split(' ').includes('openid');
    if (openid && typeof params.nonce === 'string' && params.nonce !== '') return false;
    throw new errors.InvalidRequest('PKCE (code_challenge with S256) is required, or for an OpenID Connect request (scope openid) a nonce');
  };
}
