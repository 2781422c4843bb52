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
}

/** oidc-provider settings that differ from its defaults, each with the reason. */
export function providerConfiguration(deps: ProviderDeps): Configuration {
  const { config, keys, clients } = deps;
  const { firstParty } = clients;
  return {
    // Database clients come through the adapter's Client model (clients/provider-clients.ts).
    adapter: deps.adapter,
    clients: [...config.clients.map((c) => toClientMetadata(configClientEntry(c), c.clientSecret)), accountClientMetadata(config.issuer)],
    jwks: keys.jwks as Configuration['jwks'],
    findAccount: deps.findAccount,
    cookies: { keys: keys.cookieKeys },
    // ID tokens are signed with the configured key type (keys.algorithm), not oidc-provider's RS256 default.
    clientDefaults: { id_token_signed_response_alg: config.keys.algorithm },
    claims: {
      openid: ['sub'],
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
    pkce: { required: createPkcePolicy(clients) },
    features: {
      devInteractions: { enabled: false }, // our own login pages in src/interactions
      revocation: { enabled: true, allowedPolicy: revocationPolicy },
      introspection: { enabled: true, allowedPolicy: introspectionPolicy(clients) },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => deps.renderLogout(ctx, form),
        postLogoutSuccessSource: async (ctx) => deps.renderLoggedOut(ctx),
      },
    },
    // A refresh token is single-use: each refresh returns a new one and a replayed old one
    // revokes the grant (RFC 9700 §4.14.2).
    rotateRefreshToken: true,
    ttl: {
      AuthorizationCode: config.ttl.authorizationCode,
      AccessToken: config.ttl.accessToken,
      ClientCredentials: config.ttl.accessToken,
      IdToken: config.ttl.idToken,
      RefreshToken: config.ttl.refreshToken,
      Session: config.ttl.session,
      Interaction: config.ttl.interaction,
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
