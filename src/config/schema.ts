import { z } from 'zod';
import { facebookSettingsSchema } from '../upstreams/facebook.ts';
import { githubSettingsSchema } from '../upstreams/github.ts';
import { oauth2SettingsSchema } from '../upstreams/oauth2.ts';
import { googleSettingsSchema, oidcSettingsSchema } from '../upstreams/oidc.ts';
import { acrValuesOfUpstream } from '../auth-context/upstream-acr.ts';
import { rateLimitSettingsSchema } from '../rate-limits/settings.ts';
import { backchannelLogoutSettingsSchema } from '../logout/settings.ts';
import { uiSettingsSchema } from './ui-settings.ts';
import { tokenVaultSettingsSchema } from '../token-vault/settings.ts';
import { clientClaimSettingsShape } from '../claims/settings.ts';
import { resourceServerSchema } from '../resource-servers/settings.ts';
import { DEVICE_CODE_GRANT } from '../device/grant.ts';
import { acrValueSchema, envVarName, httpUrl } from '../upstreams/settings.ts';

/**
 * Doorman's configuration. Every key's `.describe()` text is its documentation:
 * `doorman config-docs` prints the README's key table from it.
 */

/** True for hosts where plain http cannot be intercepted on the network (RFC 8252 §8.3). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127(\.\d{1,3}){3}$/.test(hostname);
}


export const DEFAULT_EMBEDDED_DATA_DIR = './data/postgres';

export const clientSchema = z.strictObject({
  // oidc-provider refuses any other client_id at every request (invalid_client_metadata).
  clientId: z.string().min(1).regex(/^[\x20-\x7E]+$/, 'must be printable ASCII (RFC 6749 Appendix A.1, VSCHAR)').describe('The OAuth client_id the app uses.'),
  name: z.string().optional().describe('Shown on the login and consent pages; defaults to clientId.'),
  clientSecretEnv: envVarName.optional()
    .describe('Name of the environment variable holding the client secret. Omit for a public client (SPA, native app): it then authenticates with PKCE alone.'),
  redirectUris: z.array(z.url()).default([])
    .describe('Exact redirect URIs (no wildcards, compared as strings, RFC 9700 §2.1). https, or http on a loopback host; no fragment, no user name or password. At least one for the authorization_code grant; none for a device-only client.'),
  postLogoutRedirectUris: z.array(z.url()).default([])
    .describe('Exact URIs the app may return to after RP-initiated logout.'),
  backchannelLogoutUri: z.url().optional()
    .describe('Where Doorman POSTs a signed logout token when a person who used this app signs out or is signed out by an admin (OIDC Back-Channel Logout 1.0). https, or http on a loopback host.'),
  backchannelLogoutSessionRequired: z.boolean().default(true)
    .describe('Put the session id (`sid`) in logout tokens and ID tokens, so the app can end just that session.'),
  firstParty: z.boolean().default(false)
    .describe('An app of your own organisation: consent is not asked. Third-party apps get a consent page.'),
  grantTypes: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT])).default(['authorization_code', 'refresh_token'])
    .describe(`Grants the client may use. Refresh tokens are issued only with the offline_access scope. \`${DEVICE_CODE_GRANT}\`: the device flow for CLIs and TVs (README "Device flow").`),
  upstreams: z.array(z.string()).optional()
    .describe('Ids of the upstreams this app\'s users may sign in with; the login page shows only these. Default: all.'),
  allowSignup: z.boolean().default(true).describe('A first sign-in through this app may create a new Doorman account.'),
  adminApi: z.boolean().default(false).describe('The app may ask for the `admin` scope, whose access tokens (of accounts with the admin role) call the admin API.'),
  canIntrospect: z.array(z.string()).default([])
    .describe('Client ids whose access tokens this client may introspect (it is a resource server for their tokens). Every client may introspect its own tokens; no client sees another client\'s refresh tokens, and the rest are answered `active: false`. Needs a confidential client.'),
  upstreamTokens: z.array(z.strictObject({
    upstream: z.string().describe('Id of an upstream with storeTokens.'),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'an OAuth scope (RFC 6749 §3.3)')).min(1)
      .describe('Upstream scopes the app may hold: a stored token is handed out only when every scope it carries is listed here.'),
  })).default([])
    .describe('Upstreams whose stored access token this app may get for the signed-in person by token exchange (RFC 8693, README "Upstream tokens for apps"). Needs a confidential client.'),
  pkce: z.enum(['required', 'optional']).optional()
    .describe('PKCE (S256) for a confidential client: `optional` (the default) enforces a code_challenge the app sends, and without one requires scope openid with a nonce (RFC 9700 §2.1.1); `required` refuses requests without a code_challenge. Public clients always need PKCE and may only say `required`.'),
  ...clientClaimSettingsShape,
  requirePushedAuthorizationRequests: z.boolean().default(false)
    .describe('The app must push its authorization requests (PAR, RFC 9126) to /request and send only the returned request_uri to /auth; a plain /auth request is refused with invalid_request.'),
  dpopBoundAccessTokens: z.boolean().default(false)
    .describe('The app must prove possession of a key (DPoP, RFC 9449) at /token: its access tokens are bound to that key and useless without a proof from it. (Any app may use DPoP; this makes it mandatory.)'),
  defaultAcrValues: z.array(acrValueSchema).default([])
    .describe('acr values this app requires when its request has no acr_values (OIDC `default_acr_values`); each must be in the acrValues of an upstream the app may use. See "Authentication context (amr, acr)".'),
});
export type ClientConfig = z.infer<typeof clientSchema>;

const upstreamSchema = z.discriminatedUnion('type', [googleSettingsSchema, oidcSettingsSchema, githubSettingsSchema, facebookSettingsSchema, oauth2SettingsSchema]);
export type UpstreamConfig = z.infer<typeof upstreamSchema>;

export const configSchema = z.strictObject({
  issuer: httpUrl.optional().describe('Public URL of Doorman (the OIDC issuer). Default http://localhost:<port>. Must be https outside loopback; env DOORMAN_ISSUER overrides.'),
  port: z.number().int().min(0).max(65535).default(3000).describe('TCP port to listen on; env PORT overrides.'),
  host: z.string().min(1).default('0.0.0.0')
    .describe('Address to listen on: all interfaces by default; 127.0.0.1 (or ::1) when a reverse proxy on the same host is the only way in. Env HOST overrides.'),
  trustProxy: z.boolean().default(false).describe('Trust X-Forwarded-* headers (set when Doorman runs behind a TLS-terminating reverse proxy).'),
  proxyHops: z.number().int().min(1).max(10).default(1)
    .describe('With trustProxy: how many proxies in front of Doorman each append an address to X-Forwarded-For. The client address is taken that many entries from the right, so a client cannot pick its own by sending the header.'),
  logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info').describe('Log level; env DOORMAN_LOG_LEVEL overrides.'),
  database: z.strictObject({
    migrateOnStart: z.boolean().default(true).describe('Apply pending migrations at start (under an advisory lock). Set false to run `doorman migrate` yourself.'),
    embeddedDataDir: z.string().default(DEFAULT_EMBEDDED_DATA_DIR).describe('Data folder of the embedded PostgreSQL, used only when DATABASE_URL is unset.'),
    sweepIntervalSeconds: z.number().int().min(5).default(600).describe('How often expired sessions, codes, tokens and pending logins are deleted (they stop working at expiry either way).'),
    poolSize: z.number().int().min(1).max(1000).default(10)
      .describe('Connections each Doorman process keeps open at most. All processes together (processes × poolSize) must stay below the server\'s max_connections (or the pooler\'s limit) with room for migrations and admin sessions.'),
    statementTimeoutMs: z.number().int().min(0).default(10000)
      .describe('PostgreSQL statement_timeout of Doorman\'s connections, in milliseconds (0 = none): a statement stuck on a lock or an overloaded server is cancelled and the request answered 503 instead of holding a connection.'),
    claimsCacheSeconds: z.number().int().min(0).max(300).default(10)
      .describe('How long each process keeps an account\'s claims in memory between the code, token and userinfo steps (0 = read them every time). A disable, merge, unlink or profile change reaches every process at once (PostgreSQL NOTIFY); while that channel is down nothing is cached.'),
  }).prefault({}).describe('Storage. The connection string comes from env DATABASE_URL; without it Doorman runs an embedded PostgreSQL.'),
  ttl: z.strictObject({
    authorizationCode: z.number().int().positive().max(600).default(60).describe('Authorization code lifetime in seconds (RFC 9700 §4.2.1: short).'),
    accessToken: z.number().int().positive().default(3600).describe('Access token lifetime in seconds.'),
    idToken: z.number().int().positive().default(3600).describe('ID token lifetime in seconds.'),
    refreshToken: z.number().int().positive().default(14 * 24 * 3600).describe('Refresh token lifetime in seconds (rotated on every use).'),
    session: z.number().int().positive().default(14 * 24 * 3600).describe('Doorman browser session lifetime in seconds.'),
    interaction: z.number().int().positive().default(1800).describe('Time a person has to finish signing in, in seconds.'),
    deviceCode: z.number().int().min(60).max(1800).default(600)
      .describe('Device flow: how long the code a device shows (and its device_code) stays valid, in seconds (RFC 8628 §5.2: short).'),
  }).prefault({}).describe('Token and session lifetimes.'),
  keys: z.strictObject({
    algorithm: z.enum(['RS256', 'ES256', 'EdDSA']).default('RS256')
      .describe('Algorithm of the ID token signing keys (and every app\'s id_token_signed_response_alg). Changing it makes a new key of that kind current at the next start.'),
    rotationDays: z.number().positive().default(90)
      .describe('Days a signing key (and cookie secret) is current before the next one, published since the last rotation, takes over.'),
    refreshSeconds: z.number().int().min(1).max(3600).default(60)
      .describe('How often each process re-reads the keys from the database (and rotates them when due), so all processes switch together.'),
  }).prefault({}).describe('Signing keys and cookie secrets: kept in the database, rotated without downtime (see Key rotation).'),
  clients: z.array(clientSchema).default([]).describe('Apps (OIDC clients) that sign people in through Doorman.'),
  tokenVault: tokenVaultSettingsSchema,
  upstreams: z.array(upstreamSchema).default([]).describe('Identity providers people sign in with.'),
  resourceServers: z.array(resourceServerSchema).default([])
    .describe('APIs that accept Doorman access tokens (README "Access tokens for APIs"): an app asks for a token for one with `resource` (RFC 8707).'),
  rateLimits: rateLimitSettingsSchema,
  backchannelLogout: backchannelLogoutSettingsSchema,
  metrics: z.strictObject({
    enabled: z.boolean().default(true).describe('Serve Prometheus metrics at /metrics (see Operations).'),
    port: z.number().int().min(1).max(65535).optional()
      .describe('Serve /metrics on this port instead of the main one, so that it need not be reachable from where the public comes from. Default: the main port.'),
  }).prefault({}).describe('Prometheus metrics.'),
  ui: uiSettingsSchema,
  console: z.strictObject({
    sessionMinutes: z.number().int().min(1).max(24 * 60).default(30)
      .describe('Minutes of inactivity after which the admin console (/admin) asks the admin to sign in again; each console page or action restarts the count.'),
  }).prefault({}).describe('The admin console (README "Admin console").'),
}).superRefine((cfg, ctx) => {
  const seen = (items: { key: string; path: (string | number)[] }[], what: string) => {
    const keys = new Set<string>();
    for (const { key, path } of items) {
      if (keys.has(key)) ctx.addIssue({ code: 'custom', path, message: `duplicate ${what} "${key}"` });
      keys.add(key);
    }
  };
  seen(cfg.clients.map((c, i) => ({ key: c.clientId, path: ['clients', i, 'clientId'] })), 'clientId');
  seen(cfg.upstreams.map((u, i) => ({ key: u.id, path: ['upstreams', i, 'id'] })), 'upstream id');
  seen(cfg.resourceServers.map((r, i) => ({ key: r.identifier, path: ['resourceServers', i, 'identifier'] })), 'resource server identifier');
  const upstreamIds = new Set(cfg.upstreams.map((u) => u.id));
  const clientIds = new Set(cfg.clients.map((c) => c.clientId));
  if (cfg.upstreams.some((u) => u.storeTokens) && !cfg.tokenVault.keys.some((k) => !k.retired)) {
    ctx.addIssue({ code: 'custom', path: ['tokenVault', 'keys'], message: 'an upstream has storeTokens: list one key that is not retired' });
  }
  seen(cfg.tokenVault.keys.map((k, i) => ({ key: k.id, path: ['tokenVault', 'keys', i, 'id'] })), 'token vault key id');
  if (cfg.tokenVault.keys.filter((k) => !k.retired).length > 1) {
    ctx.addIssue({ code: 'custom', path: ['tokenVault', 'keys'], message: 'only one key may encrypt: mark the others retired: true' });
  }
  cfg.upstreams.forEach((u, i) => {
    if ((u.clientSecretEnv === undefined) === (u.clientSecretFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'clientSecretEnv'], message: 'set exactly one of clientSecretEnv and clientSecretFile' });
    }
  });
  cfg.resourceServers.forEach((r, i) => {
    // An app's ID tokens and logout tokens have its client id as `aud`: an API named the same
    // would find them addressed to itself (RFC 9068 §4 relies on `typ` alone then).
    if (clientIds.has(r.identifier)) ctx.addIssue({ code: 'custom', path: ['resourceServers', i, 'identifier'], message: 'is also a client id: an app\'s ID tokens would name this API as their audience' });
    r.clients?.forEach((id, j) => {
      if (!clientIds.has(id)) ctx.addIssue({ code: 'custom', path: ['resourceServers', i, 'clients', j], message: `no client with clientId "${id}"` });
    });
  });
  cfg.clients.forEach((c, i) => {
    // oidc-provider takes a pairwise client's sector from its redirect URIs' one host (OIDC Core §8.1).
    if (c.subjectType === 'pairwise' && new Set(c.redirectUris.filter((u) => URL.canParse(u)).map((u) => new URL(u).host)).size > 1) {
      ctx.addIssue({ code: 'custom', path: ['clients', i, 'subjectType'], message: 'a pairwise client\'s redirectUris must all share one host (its sector)' });
    }
    if (c.subjectType === 'pairwise' && !c.grantTypes.includes('authorization_code')) {
      ctx.addIssue({ code: 'custom', path: ['clients', i, 'subjectType'], message: 'pairwise subjects are for apps that sign people in (grantTypes must include authorization_code)' });
    }
    // oidc-provider holds a pairwise device-flow client invalid unless it uses private_key_jwt,
    // which Doorman does not offer: every request of the app would fail at runtime.
    if (c.subjectType === 'pairwise' && c.grantTypes.includes(DEVICE_CODE_GRANT)) {
      ctx.addIssue({ code: 'custom', path: ['clients', i, 'subjectType'], message: `pairwise subjects cannot be combined with the ${DEVICE_CODE_GRANT} grant (use a separate public-subject client for the device)` });
    }
    c.upstreams?.forEach((id, j) => {
      if (!upstreamIds.has(id)) ctx.addIssue({ code: 'custom', path: ['clients', i, 'upstreams', j], message: `no upstream with id "${id}"` });
    });
    c.canIntrospect.forEach((id, j) => {
      if (!clientIds.has(id)) ctx.addIssue({ code: 'custom', path: ['clients', i, 'canIntrospect', j], message: `no client with clientId "${id}"` });
    });
    if (!c.clientSecretEnv && c.canIntrospect.length) {
      ctx.addIssue({ code: 'custom', path: ['clients', i, 'canIntrospect'], message: 'introspecting other clients\' tokens needs a confidential client (set clientSecretEnv)' });
    }
    if (!c.clientSecretEnv && c.pkce === 'optional') {
      ctx.addIssue({ code: 'custom', path: ['clients', i, 'pkce'], message: 'a public client (no clientSecretEnv) always needs PKCE: remove the key or say required' });
    }
    c.upstreamTokens.forEach((allowed, j) => {
      const upstream = cfg.upstreams.find((u) => u.id === allowed.upstream);
      if (!upstream) ctx.addIssue({ code: 'custom', path: ['clients', i, 'upstreamTokens', j, 'upstream'], message: `no upstream with id "${allowed.upstream}"` });
      else if (!upstream.storeTokens) ctx.addIssue({ code: 'custom', path: ['clients', i, 'upstreamTokens', j, 'upstream'], message: `upstream "${allowed.upstream}" does not keep tokens (set storeTokens: true on it)` });
    });
    if (!c.clientSecretEnv && c.upstreamTokens.length) {
      ctx.addIssue({ code: 'custom', path: ['clients', i, 'upstreamTokens'], message: 'token exchange needs a confidential client (set clientSecretEnv)' });
    }
    if (c.grantTypes.includes('authorization_code') && c.redirectUris.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['clients', i, 'redirectUris'], message: 'the authorization_code grant needs at least one redirect URI' });
    }
    c.defaultAcrValues.forEach((acr, j) => {
      const usable = cfg.upstreams.filter((u) => !c.upstreams || c.upstreams.includes(u.id));
      if (!usable.some((u) => acrValuesOfUpstream(u).includes(acr))) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'defaultAcrValues', j], message: `no upstream this client may use lists "${acr}" in its acrValues` });
      }
    });
    if (!c.clientSecretEnv && c.grantTypes.includes('client_credentials')) {
      ctx.addIssue({ code: 'custom', path: ['clients', i, 'grantTypes'], message: 'client_credentials needs a confidential client (set clientSecretEnv)' });
    }
    for (const [field, uris] of [['redirectUris', c.redirectUris], ['postLogoutRedirectUris', c.postLogoutRedirectUris]] as const) {
      uris.forEach((uri, j) => {
        const problem = redirectUriProblem(uri);
        if (problem) ctx.addIssue({ code: 'custom', path: ['clients', i, field, j], message: problem });
      });
    }
    const logoutUriProblem = c.backchannelLogoutUri === undefined ? undefined : backchannelLogoutUriProblem(c.backchannelLogoutUri);
    if (logoutUriProblem) ctx.addIssue({ code: 'custom', path: ['clients', i, 'backchannelLogoutUri'], message: logoutUriProblem });
  });
});

/** Doorman itself POSTs there, so unlike a native app's redirect URI it must be a web URL. */
function backchannelLogoutUriProblem(uri: string): string | undefined {
  if (URL.canParse(uri) && !['https:', 'http:'].includes(new URL(uri).protocol)) return 'must be an https URL (or http on a loopback host)';
  return redirectUriProblem(uri);
}

/** Why a redirect or post-logout URI is refused (also for apps managed at runtime, src/clients), or undefined. */
export function redirectUriProblem(uri: string): string | undefined {
  // Refinements run even when a URI failed z.url() (a non-aborting issue): that issue already names it.
  if (!URL.canParse(uri)) return undefined;
  const url = new URL(uri);
  if (url.hash) return 'must not contain a fragment';
  // https://app.example@evil.example/ reads as app.example to whoever checks it, and goes to evil.example.
  if (url.username || url.password) return 'must not contain a user name or password';
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) return 'plain http is allowed only for loopback hosts';
  return undefined;
}

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.infer<typeof configSchema>;
