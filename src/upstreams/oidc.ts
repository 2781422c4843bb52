import * as oidc from 'openid-client';
import { z } from 'zod';
import { lowerAscii } from '../accounts/email.ts';
import { isLoopbackHost } from '../config/schema.ts';
import { UpstreamError, type JsonObject, type UpstreamConnector, type UpstreamIdentity, type UpstreamTokens } from './connector.ts';
import { authenticationOf } from './id-token-authentication.ts';
import { normalizeTokens } from './oauth2-code.ts';
import { fetchWithin, startDeadline, toUpstreamError, withinDeadline } from './http.ts';
import { pkceChallenge } from './pkce.ts';
import { acrValueSchema, httpUrl, stringClaim, stringListClaim, upstreamBaseShape, type WithSecret } from './settings.ts';

/**
 * OpenID Connect upstreams, found by discovery: Google (`type: google`, with Google's
 * defaults and the Workspace `hd` check) and any other issuer (`type: oidc`: GitLab,
 * Okta, Keycloak, Microsoft Entra, another Doorman ...). Authorization code + PKCE (S256)
 * + nonce + state; the ID token is validated by openid-client including its signature
 * (non-repudiation checks on, so a token endpoint cannot hand us an unsigned story).
 */

const claimNamesSchema = z.strictObject({
  subject: z.string().default('sub').describe('Claim holding the stable user id.'),
  email: z.string().default('email'),
  emailVerified: z.string().default('email_verified').describe('Claim that must be the boolean true for the email to count as verified.'),
  name: z.string().default('name'),
  username: z.string().default('preferred_username'),
  picture: z.string().default('picture'),
  groups: z.string().default('groups').describe('Claim holding a list of group names.'),
}).prefault({});

const acrValuesSetting = z.array(acrValueSchema).default([])
  .describe('Authentication context classes (`acr`) this upstream asserts in its ID token when asked with `acr_values`, e.g. `["mfa"]` or `["urn:example:loa:2"]`. Doorman passes exactly these on: an app asking for one of them is offered only upstreams that list it, the upstream is asked for it, and the `acr` it returns reaches Doorman\'s ID token only when it is listed here. Empty: no `acr` from this upstream.');

export const googleSettingsSchema = z.strictObject({
  ...upstreamBaseShape,
  type: z.literal('google').describe('Google, by OIDC discovery.'),
  displayName: z.string().default('Google').describe('Button label on the login page.'),
  issuer: httpUrl.default('https://accounts.google.com').describe('Issuer used for discovery. Change only to aim at a test double or egress proxy; plain http only on loopback.'),
  hostedDomain: z.string().optional().describe('Google Workspace domain (`hd` claim) that users must belong to; others are refused with a page that says so.'),
  scopes: z.array(z.string()).default(['openid', 'email', 'profile']).describe('Scopes requested upstream.'),
  acrValues: acrValuesSetting,
  signOutUpstream: z.boolean().default(false)
    .describe('When a person who signed in here signs out of Doorman (all apps), revoke the Google tokens Doorman keeps for them at Google\'s revocation endpoint (from discovery: https://oauth2.googleapis.com/revoke), in the background, and delete them. Needs storeTokens: true. Google has no end-session endpoint: the person stays signed in to Google itself.'),
}).refine((u) => !u.signOutUpstream || u.storeTokens, {
  path: ['signOutUpstream'],
  message: 'needs storeTokens: true on a google upstream (what it revokes is the Google tokens Doorman keeps)',
});

export const oidcSettingsSchema = z.strictObject({
  ...upstreamBaseShape,
  type: z.literal('oidc').describe('Any OpenID Connect provider, by discovery.'),
  displayName: z.string().min(1).describe('Button label on the login page.'),
  issuer: httpUrl.describe('The provider\'s issuer URL (discovery at <issuer>/.well-known/openid-configuration); plain http only on loopback.'),
  scopes: z.array(z.string()).default(['openid', 'email', 'profile']).describe('Scopes requested upstream.'),
  claims: claimNamesSchema.describe('Names of the claims to read (dotted paths allowed) from the ID token and userinfo.'),
  userinfo: z.boolean().default(true).describe('Also fetch userinfo and merge it under the ID token claims (some providers put email or groups only there).'),
  trustEmail: z.boolean().default(false).describe('Treat the email as verified even without a true email_verified claim (for providers such as Microsoft Entra that never send it, when you control every account they hold).'),
  signOutUpstream: z.boolean().default(false)
    .describe('When a person who signed in here signs out of Doorman (all apps), send the browser on to this provider\'s end_session_endpoint (from its discovery) to end the session there too, then back. Register <issuer>/upstream/<id>/signed-out there as a post-logout redirect URI. Skipped when the provider publishes no end_session_endpoint or does not answer.'),
  acrValues: acrValuesSetting,
});

type GoogleSettings = WithSecret<z.infer<typeof googleSettingsSchema>>;
type OidcSettings = WithSecret<z.infer<typeof oidcSettingsSchema>>;

const DISCOVERY_TTL_MS = 24 * 60 * 60 * 1000;
/** Upstream calls of a sign-out (end session, token revocation) come after Doorman's own is done: they get at most this. */
const SIGN_OUT_DEADLINE_MS = 3000;
const transactionSchema = z.object({ nonce: z.string().min(1), codeVerifier: z.string().min(43) });
const DEFAULT_CLAIMS = claimNamesSchema.parse({});

export function openOidcConnector(settings: GoogleSettings | OidcSettings): UpstreamConnector {
  const issuer = new URL(settings.issuer);
  const insecure = issuer.protocol === 'http:';
  if (insecure && !isLoopbackHost(issuer.hostname)) {
    throw new UpstreamError(settings.id, 'misconfigured', `upstream ${settings.id}: issuer must be https (plain http only for loopback hosts)`);
  }
  const claimNames = settings.type === 'oidc' ? settings.claims : DEFAULT_CLAIMS;
  const timeout = settings.timeoutMs / 1000;
  let discovered: Promise<oidc.Configuration> | undefined;
  let discoveredAt = 0;

  /**
   * Lazy and cached for a day: Doorman starts while an upstream is down, retries discovery
   * after a failure, and picks up a provider's changed endpoints without a restart. (Its
   * JWKS is refreshed by openid-client whenever a token names an unknown key.)
   */
  const configuration = (): Promise<oidc.Configuration> => {
    if (discovered && Date.now() - discoveredAt > DISCOVERY_TTL_MS) discovered = undefined;
    if (!discovered) discoveredAt = Date.now();
    discovered ??= oidc.discovery(issuer, settings.clientId, undefined, oidc.ClientSecretPost(settings.clientSecret), {
      timeout,
      execute: [oidc.enableNonRepudiationChecks, ...(insecure ? [oidc.allowInsecureRequests] : [])],
      // Through the same transport as every other upstream call, for its size bound. The
      // deadline is discovery's own (openid-client's `timeout`), not any one login's.
      [oidc.customFetch]: (url, options) => fetchWithin(AbortSignal.timeout(settings.timeoutMs), settings.id)(url, options as RequestInit),
    }).then((config) => {
      config.timeout = timeout;
      return config;
    }).catch((err: unknown) => {
      discovered = undefined;
      throw toUpstreamError(settings.id, err, 'discovery');
    });
    return discovered;
  };
  /** The discovered metadata, waited for no longer than the call's deadline. */
  // serverMetadata() hands out a deep copy each time (structuredClone): one per discovery, not one per login.
  const metadataOf = new WeakMap<oidc.Configuration, oidc.ServerMetadata>();
  const metadataWithin = async (signal: AbortSignal): Promise<oidc.ServerMetadata> => {
    const config = await withinDeadline(configuration(), signal);
    let metadata = metadataOf.get(config);
    if (!metadata) metadataOf.set(config, metadata = config.serverMetadata());
    return metadata;
  };

  let jwksCache: oidc.ExportedJWKSCache | undefined;
  /**
   * One Configuration per login, so that its requests (token, JWKS, userinfo) share the
   * login's deadline; the JWKS cache is carried from one login to the next. With
   * `replayToken`, the token endpoint is not called again: that answer is used.
   */
  const loginConfiguration = (metadata: oidc.ServerMetadata, signal: AbortSignal, replayToken?: Response): oidc.Configuration => {
    const config = new oidc.Configuration(metadata, settings.clientId, undefined, oidc.ClientSecretPost(settings.clientSecret));
    config.timeout = timeout;
    oidc.enableNonRepudiationChecks(config);
    if (insecure) oidc.allowInsecureRequests(config);
    if (jwksCache) oidc.setJwksCache(config, jwksCache);
    const fetchNow = fetchWithin(signal, settings.id);
    config[oidc.customFetch] = async (url, options) => {
      if (replayToken && url === metadata.token_endpoint) return replayToken;
      const res = await fetchNow(url, options as RequestInit);
      if (settings.type === 'google' && url === metadata.token_endpoint) await refuseOtherIssuerForm(metadata.issuer, res);
      return res;
    };
    return config;
  };

  return {
    id: settings.id,
    type: settings.type,
    displayName: settings.displayName,

    async startLogin({ redirectUri, state, loginHint, acrValues }) {
      const config = await configuration();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const nonce = oidc.randomNonce();
      const params: Record<string, string> = {
        redirect_uri: redirectUri.href,
        scope: settings.scopes.join(' '),
        response_type: 'code',
        state,
        nonce,
        code_challenge: pkceChallenge(codeVerifier),
        code_challenge_method: 'S256',
      };
      // A hint only (Google lists accounts of that domain first); the hd claim is checked on return.
      if (settings.type === 'google' && settings.hostedDomain) params.hd = settings.hostedDomain;
      // Google and most OIDC providers preselect or prefill the account (OIDC Core §3.1.2.1).
      if (loginHint) params.login_hint = loginHint;
      if (acrValues?.length) params.acr_values = acrValues.join(' ');
      // Google issues a refresh token only when asked this way (its own parameter, not offline_access):
      // https://developers.google.com/identity/protocols/oauth2/web-server#offline
      if (settings.type === 'google' && settings.storeTokens) params.access_type = 'offline';
      return { url: oidc.buildAuthorizationUrl(config, params), transaction: { nonce, codeVerifier } };
    },

    async endSessionUrl({ postLogoutRedirectUri, state }) {
      if (settings.type !== 'oidc' || !settings.signOutUpstream) return undefined;
      // Doorman's own logout is done by now: the upstream gets a short, separate deadline.
      const call = startDeadline(settings.id, Math.min(settings.timeoutMs, SIGN_OUT_DEADLINE_MS));
      try {
        const config = await withinDeadline(configuration(), call.signal);
        const endpoint = config.serverMetadata().end_session_endpoint;
        if (!endpoint) return undefined;
        // Any HTTP answer shows the provider is up; without one the browser would be sent to a dead page.
        await (await fetchWithin(call.signal, settings.id)(endpoint, { redirect: 'manual' })).body?.cancel();
        // client_id instead of id_token_hint (RP-Initiated Logout 1.0 §2): Doorman keeps no upstream
        // ID token, and none of its own tokens may go upstream.
        return oidc.buildEndSessionUrl(config, { client_id: settings.clientId, post_logout_redirect_uri: postLogoutRedirectUri.href, state });
      } catch (err) {
        throw toUpstreamError(settings.id, err, 'end_session');
      }
    },

    ...(settings.type === 'google' ? {
      async revokeToken(token: string) {
        // In the background after the sign-out: a short deadline of its own, as endSessionUrl's.
        const call = startDeadline(settings.id, Math.min(settings.timeoutMs, SIGN_OUT_DEADLINE_MS));
        try {
          const metadata = await metadataWithin(call.signal);
          await oidc.tokenRevocation(loginConfiguration(metadata, call.signal), token);
        } catch (err) {
          // Google's answer for a token it no longer knows (the person removed the app, or a second sign-out).
          if (err instanceof oidc.ResponseBodyError && err.error === 'invalid_token') return;
          throw toUpstreamError(settings.id, err, 'token revocation');
        }
      },
    } : {}),

    async finishLogin({ callbackUrl, redirectUri, transaction }) {
      const { nonce, codeVerifier } = transactionSchema.parse(transaction);
      const call = startDeadline(settings.id, settings.timeoutMs);
      let claims: Record<string, unknown>;
      let idTokenClaims: Record<string, unknown>;
      let tokenSet: UpstreamTokens;
      try {
        const metadata = await metadataWithin(call.signal);
        const grant = (config: oidc.Configuration, url: URL) => oidc.authorizationCodeGrant(config, url, {
          pkceCodeVerifier: codeVerifier,
          expectedNonce: nonce,
          expectedState: callbackUrl.searchParams.get('state') ?? undefined,
          idTokenExpected: true,
        }, { redirect_uri: redirectUri.href });
        let config = loginConfiguration(metadata, call.signal);
        let tokens;
        try {
          tokens = await grant(config, callbackUrl);
        } catch (err) {
          const other = settings.type === 'google' ? otherIssuerForm(err) : undefined;
          if (!other) throw err;
          // The same token response, validated by openid-client against the issuer form it names.
          // The callback's own `iss` parameter, if any, was checked against the discovered form above.
          config = loginConfiguration({ ...metadata, issuer: other.issuer }, call.signal, other.response);
          const url = new URL(callbackUrl);
          url.searchParams.delete('iss');
          tokens = await grant(config, url);
        }
        jwksCache = oidc.getJwksCache(config) ?? jwksCache;
        tokenSet = normalizeTokens(tokens, settings.scopes.join(' '));
        idTokenClaims = { ...tokens.claims() };
        claims = idTokenClaims;
        if (settings.type === 'oidc' && settings.userinfo && metadata.userinfo_endpoint) {
          // expectedSubject: userinfo of another user must not be merged in (OIDC Core §5.3.2).
          const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub));
          claims = { ...userinfo, ...claims };
        }
      } catch (err) {
        throw toUpstreamError(settings.id, err, 'callback');
      }
      if (settings.type === 'google' && settings.hostedDomain && claims.hd !== settings.hostedDomain) {
        throw new UpstreamError(settings.id, 'domain_not_allowed', `account is not in the hosted domain ${settings.hostedDomain} (hd=${String(claims.hd ?? 'none')})`);
      }
      return { identity: { ...toIdentity(settings, claimNames, claims), authentication: authenticationOf(idTokenClaims, settings.acrValues) }, tokens: tokenSet };
    },

    async refreshTokens(refreshToken) {
      const call = startDeadline(settings.id, settings.timeoutMs);
      try {
        const metadata = await metadataWithin(call.signal);
        const config = loginConfiguration(metadata, call.signal);
        // Google keeps the refresh token (the answer has none); rotating providers send a new one.
        return normalizeTokens(await oidc.refreshTokenGrant(config, refreshToken), '');
      } catch (err) {
        throw toUpstreamError(settings.id, err, 'token refresh');
      }
    },
  };
}

/**
 * Google documents two forms of `iss` in its ID tokens, `https://accounts.google.com` and
 * `accounts.google.com` (https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken),
 * while its discovery names only the first and openid-client compares exactly (OIDC Core
 * §3.1.3.7 step 2). For `type: google` the scheme-less form of the discovered issuer is
 * accepted too, nothing else: the token endpoint's answer is looked at (unverified) only
 * to choose which of the two forms openid-client then validates it against.
 */
class OtherIssuerForm extends Error {
  constructor(readonly issuer: string, readonly response: Response) {
    super(`ID token issued as ${issuer}`);
  }
}

async function refuseOtherIssuerForm(issuer: string, res: Response): Promise<void> {
  const schemeless = issuer.replace(/^https?:\/\//, '');
  if (!res.ok || schemeless === issuer) return;
  // A failed read (the login's deadline) propagates; a malformed answer is openid-client's to report.
  const text = await res.clone().text();
  let iss: unknown;
  try {
    const idToken = (JSON.parse(text) as { id_token?: unknown }).id_token;
    if (typeof idToken !== 'string') return;
    iss = (JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString()) as { iss?: unknown }).iss;
  } catch {
    return;
  }
  if (iss === schemeless) throw new OtherIssuerForm(schemeless, res);
}

function otherIssuerForm(err: unknown): OtherIssuerForm | undefined {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof OtherIssuerForm) return e;
  }
  return undefined;
}

function toIdentity(settings: GoogleSettings | OidcSettings, names: z.infer<typeof claimNamesSchema>, claims: Record<string, unknown>): UpstreamIdentity {
  const subject = stringClaim(claims, names.subject);
  if (!subject) throw new UpstreamError(settings.id, 'invalid_response', `no ${names.subject} claim`);
  // As sent: the comparison rule lives in accounts/email.ts (toLowerCase here once let U+212A K pass for k).
  const email = stringClaim(claims, names.email);
  // Only the JSON boolean true counts: some providers send "true" strings or nothing at all.
  const verified = settings.type === 'oidc' && settings.trustEmail ? true : claims[names.emailVerified] === true;
  const identity: UpstreamIdentity = {
    connectorId: settings.id,
    subject,
    emailVerified: email !== undefined && verified,
    groups: stringListClaim(claims, names.groups),
    raw: JSON.parse(JSON.stringify(claims)) as JsonObject,
  };
  const name = stringClaim(claims, names.name);
  const picture = stringClaim(claims, names.picture);
  const username = stringClaim(claims, names.username) ?? (email ? lowerAscii(email.split('@')[0]!) : undefined);
  if (email) identity.email = email;
  if (name) identity.name = name;
  if (picture) identity.picture = picture;
  if (username) identity.username = username;
  return identity;
}
