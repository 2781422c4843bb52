import type { Adapter, ClientMetadata, Configuration, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import type { Config, ClientSettings } from '../config/load.ts';
import { ACCOUNT_CLIENT_ID, accountClientMetadata } from '../self-service/session.ts';
import type { ProviderKeys } from '../keys/key-ring.ts';
import { introspectionPolicy, revocationPolicy } from './token-policy.ts';
import { createLoadExistingGrant } from './existing-grant.ts';
import { interactionPolicyKeepingOfflineAccess } from './offline-access.ts';
import { createPkcePolicy } from './pkce-policy.ts';
import { TOKEN_EXCHANGE_GRANT, UPSTREAM_TOKENS_METADATA, upstreamTokensExtraMetadata } from '../token-vault/allowance.ts';
import { clientClaimsExtraMetadata, clientClaimsMetadata, staticClaimNames, withClientClaims } from '../claims/client-claims.ts';
import { createPairwiseIdentifier } from '../claims/pairwise.ts';
import { accessTokenLifetime, addGroupsToApiTokens, resourceIndicators } from '../resource-servers/resource-indicators.ts';
import { deviceFlowFeature } from '../device/settings.ts';
import type { DevicePages } from '../device/pages.ts';

export interface ProviderDeps {
  config: Config;
  keys: ProviderKeys;
  adapter: (model: string) => Adapter;
  findAccount: FindAccount;
  renderError: (ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, err: unknown) => void;
  renderLogout: (ctx: KoaContextWithOIDC, form: string) => void;
  renderLoggedOut: (ctx: KoaContextWithOIDC) => void;
  /** The scopes a person allowed a third-party app before (src/consents), or undefined. */
  rememberedScope: (accountId: string, clientId: string) => Promise<string | undefined>;
  /** The secret of pairwise subjects (src/claims/pairwise.ts). */
  pairwiseSalt: string;
  /** The device flow's pages (src/device). */
  devicePages: DevicePages;
}

/** oidc-provider settings that differ from its defaults, each with the reason. */
export function providerConfiguration(deps: ProviderDeps): Configuration {
  const { config, keys } = deps;
  const firstParty = firstPartyClientIds(config);
  // Every app sees the claims its settings allow (src/claims), wherever oidc-provider asks.
  const findAccount = withClientClaims(deps.findAccount);
  return {
    adapter: deps.adapter,
    clients: [...config.clients.map((c) => toClientMetadata(c, config)), accountClientMetadata(config.issuer)],
    // Which upstream tokens an app may get by token exchange (src/token-vault/allowance.ts).
    jwks: keys.jwks as Configuration['jwks'],
    findAccount,
    // Per-app settings as client metadata: claims (src/claims), upstream token allowance (src/token-vault).
    extraClientMetadata: combineExtraMetadata(clientClaimsExtraMetadata, upstreamTokensExtraMetadata),
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: createPairwiseIdentifier(deps.pairwiseSalt),
    cookies: { keys: keys.cookieKeys },
    // ID tokens are signed with the configured key type (keys.algorithm), not oidc-provider's RS256 default.
    clientDefaults: { id_token_signed_response_alg: config.keys.algorithm },
    claims: {
      openid: ['sub', ...staticClaimNames(config.clients)], // static claims: only the apps that have them get them
      email: ['email', 'email_verified'],
      profile: ['name', 'picture', 'preferred_username'],
      groups: ['groups'], // upstream groups (GitHub orgs and teams, OIDC groups claims), with each upstream's groupsPrefix
    },
    // Implicit and hybrid flows are out (RFC 9700 §2.1.2); `none` only for the Account page's own client.
    responseTypes: ['code', 'none'],
    // Which upstream to use, so the login page can be skipped (interactions/upstream-choice.ts);
    // kc_idp_hint is Keycloak's name for it, which apps written for Keycloak already send.
    // oidc-provider drops parameters it does not know, so they must be named here.
    extraParams: ['idp_hint', 'kc_idp_hint'],
    scopes: ['openid', 'offline_access', 'admin'],
    // S256 only; required for public clients, per-client for confidential ones (pkce-policy.ts).
    pkce: { required: createPkcePolicy(config.clients) },
    features: {
      devInteractions: { enabled: false }, // our own login pages in src/interactions
      revocation: { enabled: true, allowedPolicy: revocationPolicy },
      introspection: { enabled: true, allowedPolicy: introspectionPolicy(config) },
      clientCredentials: { enabled: true },
      resourceIndicators: resourceIndicators(config.resourceServers),
      deviceFlow: deviceFlowFeature(config, deps.devicePages), // RFC 8628, for clients that list its grant (src/device)
      userinfo: { enabled: true },
      // Logout tokens to apps with a backchannel_logout_uri; src/logout delivers them from a queue.
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => deps.renderLogout(ctx, form),
        postLogoutSuccessSource: async (ctx) => deps.renderLoggedOut(ctx),
      },
    },
    // A refresh token is single-use: each refresh returns a new one and a replayed old one
    // revokes the grant (RFC 9700 §4.14.2).
    rotateRefreshToken: true,
    formats: { customizers: { jwt: addGroupsToApiTokens(findAccount) } },
    ttl: {
      AuthorizationCode: config.ttl.authorizationCode,
      AccessToken: accessTokenLifetime(config.ttl.accessToken),
      ClientCredentials: accessTokenLifetime(config.ttl.accessToken),
      IdToken: config.ttl.idToken,
      RefreshToken: config.ttl.refreshToken,
      Session: config.ttl.session,
      Interaction: config.ttl.interaction,
      DeviceCode: config.ttl.deviceCode,
      Grant: config.ttl.refreshToken,
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      // oidc-provider's policy, plus: offline_access is not dropped for want of prompt=consent (offline-access.ts).
      policy: interactionPolicyKeepingOfflineAccess(firstParty),
    },
    loadExistingGrant: createLoadExistingGrant({ firstParty, rememberedScope: deps.rememberedScope }),
    renderError: async (ctx, out, err) => deps.renderError(ctx, out, err),
  };
}

/** Apps whose grants need no consent page: those marked firstParty, and Doorman's own Account page. */
export function firstPartyClientIds(config: Config): ReadonlySet<string> {
  return new Set([ACCOUNT_CLIENT_ID, ...config.clients.filter((c) => c.firstParty).map((c) => c.clientId)]);
}

type ExtraMetadata = NonNullable<Configuration['extraClientMetadata']>;

/** oidc-provider takes one list of extra client metadata and one validator; each feature declares its own. */
function combineExtraMetadata(...parts: ExtraMetadata[]): ExtraMetadata {
  return {
    properties: parts.flatMap((p) => p.properties ?? []),
    validator(ctx, key, value, metadata) {
      for (const p of parts) if (p.properties?.includes(key)) p.validator?.(ctx, key, value, metadata);
    },
  };
}

/** True when token exchange is on: some upstream keeps tokens (src/token-vault registers the grant). */
export function tokenExchangeEnabled(config: Config): boolean {
  return config.upstreams.some((u) => u.storeTokens);
}

function toClientMetadata(c: ClientSettings, config: Config): ClientMetadata {
  return {
    client_id: c.clientId,
    client_name: c.name ?? c.clientId,
    ...(c.clientSecret ? { client_secret: c.clientSecret } : { token_endpoint_auth_method: 'none' }),
    redirect_uris: [...c.redirectUris],
    post_logout_redirect_uris: [...c.postLogoutRedirectUris],
    ...(c.backchannelLogoutUri ? { backchannel_logout_uri: c.backchannelLogoutUri, backchannel_logout_session_required: c.backchannelLogoutSessionRequired } : {}),
    // Token exchange is open to every app so that one without upstreamTokens hears unauthorized_client (exchange-grant.ts).
    grant_types: [...c.grantTypes, ...(tokenExchangeEnabled(config) ? [TOKEN_EXCHANGE_GRANT] : [])],
    [UPSTREAM_TOKENS_METADATA]: c.upstreamTokens.map((a) => ({ upstream: a.upstream, scopes: [...a.scopes] })),
    // What the client may ask for; `admin` only when the operator allowed it.
    scope: ['openid', 'offline_access', 'email', 'profile', 'groups', ...(c.adminApi ? ['admin'] : [])].join(' '),
    response_types: c.grantTypes.includes('authorization_code') ? ['code'] : [],
    ...clientClaimsMetadata(c),
  };
}
