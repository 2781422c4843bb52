import * as oidc from 'openid-client';
import { z } from 'zod';
import { lowerAscii } from '../accounts/email.ts';
import { isLoopbackHost } from '../config/schema.ts';
import { UpstreamError, type JsonObject, type UpstreamConnector, type UpstreamIdentity } from './connector.ts';
import { toUpstreamError } from './http.ts';
import { httpUrl, stringClaim, stringListClaim, upstreamBaseShape, type WithSecret } from './settings.ts';

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

export const googleSettingsSchema = z.strictObject({
  ...upstreamBaseShape,
  type: z.literal('google').describe('Google, by OIDC discovery.'),
  displayName: z.string().default('Google').describe('Button label on the login page.'),
  issuer: httpUrl.default('https://accounts.google.com').describe('Issuer used for discovery. Change only to aim at a test double or egress proxy; plain http only on loopback.'),
  hostedDomain: z.string().optional().describe('Google Workspace domain (`hd` claim) that users must belong to; others are refused with a page that says so.'),
  scopes: z.array(z.string()).default(['openid', 'email', 'profile']).describe('Scopes requested upstream.'),
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
});

type GoogleSettings = WithSecret<z.infer<typeof googleSettingsSchema>>;
type OidcSettings = WithSecret<z.infer<typeof oidcSettingsSchema>>;

const DISCOVERY_TTL_MS = 24 * 60 * 60 * 1000;
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
    }).then((config) => {
      config.timeout = timeout;
      return config;
    }).catch((err: unknown) => {
      discovered = undefined;
      throw toUpstreamError(settings.id, err, 'discovery');
    });
    return discovered;
  };

  return {
    id: settings.id,
    type: settings.type,
    displayName: settings.displayName,

    async startLogin({ redirectUri, state }) {
      const config = await configuration();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const nonce = oidc.randomNonce();
      const params: Record<string, string> = {
        redirect_uri: redirectUri.href,
        scope: settings.scopes.join(' '),
        response_type: 'code',
        state,
        nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      };
      // A hint only (Google lists accounts of that domain first); the hd claim is checked on return.
      if (settings.type === 'google' && settings.hostedDomain) params.hd = settings.hostedDomain;
      return { url: oidc.buildAuthorizationUrl(config, params), transaction: { nonce, codeVerifier } };
    },

    async finishLogin({ callbackUrl, redirectUri, transaction }) {
      const { nonce, codeVerifier } = transactionSchema.parse(transaction);
      const config = await configuration();
      let claims: Record<string, unknown>;
      try {
        const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: codeVerifier,
          expectedNonce: nonce,
          expectedState: callbackUrl.searchParams.get('state') ?? undefined,
          idTokenExpected: true,
        }, { redirect_uri: redirectUri.href });
        claims = { ...tokens.claims() };
        if (settings.type === 'oidc' && settings.userinfo && config.serverMetadata().userinfo_endpoint) {
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
      return toIdentity(settings, claimNames, claims);
    },
  };
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
