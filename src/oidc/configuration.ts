import type { Adapter, Configuration, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/load.ts';
import { configClientEntry } from '../clients/client-entry.ts';
import { toClientMetadata } from '../clients/provider-clients.ts';
import type { ClientRegistry } from '../clients/registry.ts';
import { accountClientMetadata } from '../self-service/session.ts';
import type { ProviderKeys } from '../keys/key-ring.ts';
import { introspectionPolicy, revocationPolicy } from './token-policy.ts';
import { createLoadExistingGrant } from './existing-grant.ts';
import { interactionPolicyKeepingOfflineAccess } from './offline-access.ts';
import { createPkcePolicy } from './pkce-policy.ts';
import { upstreamTokensExtraMetadata } from '../token-vault/allowance.ts';
import { clientClaimsExtraMetadata, staticClaimNames, withClientClaims } from '../claims/client-claims.ts';
import { createPairwiseIdentifier } from '../claims/pairwise.ts';
import { accessTokenLifetime, addGroupsToApiTokens, resourceIndicators } from '../resource-servers/resource-indicators.ts';
import { deviceFlowFeature, expiresWithSession } from '../device/settings.ts';
import type { DevicePages } from '../device/pages.ts';
import { withAcrRequirement } from '../auth-context/acr-check.ts';
import { acrValuesByClient, supportedAcrValues } from '../auth-context/upstream-acr.ts';

export interface ProviderDeps {
  config: Config;
  /** Every app, from the config file and the database (src/clients). */
  clients: ClientRegistry;
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
  const { config, keys, clients } = deps;
  const { firstParty } = clients;
  // Every app sees the claims its settings allow (src/claims), wherever oidc-provider asks.
  const findAccount = withClientClaims(deps.findAccount);
  const acrValues = supportedAcrValues(config.upstreams);
  return {
    // Database clients come through the adapter's Client model (clients/provider-clients.ts).
    adapter: deps.adapter,
    clients: [...config.clients.map((c) => toClientMetadata(configClientEntry(c), c.clientSecret, {}, tokenExchangeEnabled(config))), accountClientMetadata(config.issuer)],
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
      // amr and acr of the login (auth-context/) in every ID token: oidc-provider releases a
      // claim only through a scope or the claims parameter, so these were never sent before.
      // acr only when some upstream can assert one, so discovery does not promise it otherwise.
      // Static claims (src/claims): only the apps that have them get them.
      openid: ['sub', 'amr', ...(acrValues.length ? ['acr'] : []), ...staticClaimNames(config.clients)],
      email: ['email', 'email_verified'],
      profile: ['name', 'picture', 'preferred_username'],
      groups: ['groups'], // upstream groups (GitHub orgs and teams, OIDC groups claims), with each upstream's groupsPrefix
    },
    // What upstreams can assert (auth-context/); empty leaves `acr` out of ID tokens and discovery.
    acrValues,
    // Implicit and hybrid flows are out (RFC 9700 §2.1.2); `none` only for the Account page's own client.
    responseTypes: ['code', 'none'],
    // Which upstream to use, so the login page can be skipped (interactions/upstream-choice.ts);
    // kc_idp_hint is Keycloak's name for it, which apps written for Keycloak already send.
    // oidc-provider drops parameters it does not know, so they must be named here.
    extraParams: ['idp_hint', 'kc_idp_hint'],
    scopes: ['openid', 'offline_access', 'admin'],
    // S256 only; required for public clients, per-client for confidential ones (pkce-policy.ts).
    pkce: { required: createPkcePolicy(clients) },
    features: {
      devInteractions: { enabled: false }, // our own login pages in src/interactions
      revocation: { enabled: true, allowedPolicy: revocationPolicy },
      introspection: { enabled: true, allowedPolicy: introspectionPolicy(clients) },
      clientCredentials: { enabled: true },
      resourceIndicators: resourceIndicators(config.resourceServers),
      deviceFlow: deviceFlowFeature(config, deps.devicePages), // RFC 8628, for clients that list its grant (src/device)
      // PAR (RFC 9126) and DPoP (RFC 9449) on by choice, per client required (toClientMetadata);
      // a DPoP proof's jti is single-use per client (ReplayDetection rows, oidc/adapter.ts).
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      dPoP: { enabled: true, allowReplay: false },
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
    expiresWithSession, // a device code outlives the browser session that approved it (src/device)
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
      // And: required acr_values met, or refused when no upstream can (auth-context/acr-check.ts).
      policy: withAcrRequirement(interactionPolicyKeepingOfflineAccess(firstParty), acrValuesByClient(config.upstreams, (id) => clients.get(id)?.upstreams)),
    },
    loadExistingGrant: createLoadExistingGrant({ firstParty, rememberedScope: deps.rememberedScope }),
    renderError: async (ctx, out, err) => deps.renderError(ctx, out, err),
  };
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
