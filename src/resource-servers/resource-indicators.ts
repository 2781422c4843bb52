import { errors } from 'oidc-provider';
import type { AccessToken, ClientCredentials, Configuration, FindAccount, KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import type { ResourceServerSettings } from './settings.ts';

type Features = NonNullable<Configuration['features']>;

/**
 * RFC 8707 resource indicators for the APIs in `resourceServers`. An app names an API with
 * `resource`; an unknown API, or one the app may not use, is invalid_target. oidc-provider
 * does the rest: the token's `aud` is the API, its scope the requested scopes the API
 * declares (others dropped), its format and lifetime the API's.
 *
 * Which token the token endpoint returns (oidc-provider lib/helpers/resolve_resource.js,
 * useGrantedResource left false): the API's when the token request names it with
 * `resource` (RFC 8707 §2.2), or when the authorization had no openid scope; otherwise an
 * opaque token for userinfo, so an OIDC sign-in keeps working. Userinfo refuses every token
 * with an audience ("token audience prevents accessing the userinfo endpoint"), and a JWT
 * is never found among the stored tokens that userinfo, introspection and the admin API
 * look up, so an API token can never act as a Doorman token.
 */
export function resourceIndicators(servers: readonly ResourceServerSettings[]): Features['resourceIndicators'] {
  const byIdentifier = new Map(servers.map((s) => [s.identifier, s]));
  return {
    enabled: true,
    async getResourceServerInfo(_ctx, indicator, client): Promise<ResourceServer> {
      // Exact string match: no normalisation that could make two spellings one API.
      const server = byIdentifier.get(indicator);
      if (!server) throw new errors.InvalidTarget('unknown resource');
      if (server.clients && !server.clients.includes(client.clientId)) throw new errors.InvalidTarget('this client may not get tokens for this resource');
      return {
        scope: server.scopes.join(' '),
        audience: server.identifier,
        accessTokenFormat: server.accessTokenFormat,
        accessTokenTTL: server.accessTokenLifetime,
      };
    },
  };
}

/** ttl.AccessToken and ttl.ClientCredentials: the API's lifetime for its tokens, `fallback` for Doorman's own. */
export function accessTokenLifetime(fallback: number) {
  return (_ctx: KoaContextWithOIDC, token: AccessToken | ClientCredentials): number => token.resourceServer?.accessTokenTTL ?? fallback;
}

/**
 * formats.customizers.jwt: a person's token for an API carries their `groups` (as the app
 * sees them, src/claims) when the app asked for the `groups` scope in this authorization
 * (or refresh) and the person granted it; never otherwise (RFC 9068 §2.2.3.1 lets an AS
 * add such attributes).
 */
export function addGroupsToApiTokens(findAccount: FindAccount) {
  return async (ctx: KoaContextWithOIDC, token: AccessToken | ClientCredentials, parts: { payload: Record<string, unknown> }): Promise<void> => {
  if (token.kind !== 'AccessToken' || !token.accountId || !token.grantId) return;
  const source = ctx.oidc.entities.RefreshToken ?? ctx.oidc.entities.AuthorizationCode;
  if (!source?.scopes.has('groups')) return;
  const narrowed = ctx.oidc.params?.scope;
  if (typeof narrowed === 'string' && !narrowed.split(' ').includes('groups')) return;
  // The grant the token endpoint already loaded for this code or refresh token (read again only otherwise).
  const loaded = ctx.oidc.entities.Grant;
  const grant = loaded?.jti === token.grantId ? loaded : await ctx.oidc.provider.Grant.find(token.grantId);
  if (!grant?.getOIDCScope().split(' ').includes('groups')) return;
  const account = await findAccount(ctx, token.accountId, token);
  const claims = await account?.claims('userinfo', 'openid groups', {}, []);
  if (Array.isArray(claims?.groups)) parts.payload.groups = claims.groups;
  };
}
