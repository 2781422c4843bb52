import * as oidc from 'openid-client';
import { z } from 'zod';
import type { UpstreamSettings } from '../config/load.ts';
import { isLoopbackHost } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { UpstreamError, type JsonObject, type UpstreamConnector, type UpstreamIdentity } from './connector.ts';

/**
 * Google, and any issuer that speaks OpenID Connect the way Google does: discovery,
 * authorization code + PKCE (S256) + nonce, ID token validated by openid-client including
 * its signature (non-repudiation checks on), claims normalized.
 */

const transactionSchema = z.object({ nonce: z.string().min(1), codeVerifier: z.string().min(43) });

/** The ID token claims we use; everything else stays in `raw`. https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload */
const claimsSchema = z.looseObject({
  sub: z.string().min(1).max(255),
  email: z.string().optional(),
  // Google sends a JSON boolean. Anything else (absent, "true" as a string) is not a verification.
  email_verified: z.unknown().optional(),
  name: z.string().optional(),
  picture: z.string().optional(),
  hd: z.string().optional(),
});

export function openOidcConnector(settings: UpstreamSettings, log: Logger): UpstreamConnector {
  const issuer = new URL(settings.issuer);
  const insecure = issuer.protocol === 'http:';
  if (insecure && !isLoopbackHost(issuer.hostname)) {
    throw new UpstreamError(settings.id, 'misconfigured', `upstreams.${settings.id}.issuer: plain http only for loopback hosts`);
  }
  const timeoutSeconds = Math.max(1, Math.ceil(settings.timeoutMs / 1000));
  let discovered: Promise<oidc.Configuration> | undefined;

  /** Discovery is lazy and cached, so Doorman starts even when the upstream is down, and retries after a failure. */
  const configuration = (): Promise<oidc.Configuration> => {
    discovered ??= oidc.discovery(issuer, settings.clientId, undefined, oidc.ClientSecretPost(settings.clientSecret), {
      timeout: timeoutSeconds,
      execute: [oidc.enableNonRepudiationChecks, ...(insecure ? [oidc.allowInsecureRequests] : [])],
    }).then((config) => {
      config.timeout = timeoutSeconds;
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
      // A hint only: Google shows accounts of that domain first. The hd claim is checked on return.
      if (settings.hostedDomain) params.hd = settings.hostedDomain;
      return { url: oidc.buildAuthorizationUrl(config, params), transaction: { nonce, codeVerifier } };
    },

    async finishLogin({ callbackUrl, redirectUri, transaction }) {
      const { nonce, codeVerifier } = transactionSchema.parse(transaction);
      const config = await configuration();
      let claims: z.infer<typeof claimsSchema>;
      try {
        const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: codeVerifier,
          expectedNonce: nonce,
          expectedState: callbackUrl.searchParams.get('state') ?? undefined,
          idTokenExpected: true,
        }, { redirect_uri: redirectUri.href });
        claims = claimsSchema.parse(tokens.claims());
      } catch (err) {
        throw toUpstreamError(settings.id, err, 'callback');
      }
      if (settings.hostedDomain && claims.hd !== settings.hostedDomain) {
        throw new UpstreamError(settings.id, 'domain_not_allowed',
          `account is not in the hosted domain ${settings.hostedDomain} (hd=${claims.hd ?? 'none'})`);
      }
      log.debug('upstream login', { connector: settings.id });
      return toIdentity(settings.id, claims);
    },
  };
}

function toIdentity(connectorId: string, claims: z.infer<typeof claimsSchema>): UpstreamIdentity {
  const identity: UpstreamIdentity = {
    connectorId,
    subject: claims.sub,
    emailVerified: claims.email !== undefined && claims.email_verified === true,
    groups: [],
    raw: JSON.parse(JSON.stringify(claims)) as JsonObject,
  };
  if (claims.email) identity.email = claims.email.toLowerCase();
  if (claims.name) identity.name = claims.name;
  if (claims.picture) identity.picture = claims.picture;
  if (identity.email) identity.username = identity.email.split('@')[0];
  return identity;
}

/** Maps openid-client and network failures to the broker's error codes. */
export function toUpstreamError(connectorId: string, err: unknown, step: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as { name?: string; code?: string; error?: string; error_description?: string; message?: string; cause?: unknown };
  const detail = `${step}: ${e.error ?? e.code ?? e.name}: ${e.error_description ?? e.message ?? ''}`.trim();
  if (err instanceof oidc.AuthorizationResponseError) {
    return new UpstreamError(connectorId, e.error === 'access_denied' ? 'denied' : 'misconfigured', detail, { cause: err });
  }
  if (err instanceof oidc.ResponseBodyError) {
    if (e.error === 'invalid_grant') return new UpstreamError(connectorId, 'expired', detail, { cause: err });
    return new UpstreamError(connectorId, 'misconfigured', detail, { cause: err });
  }
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || (e.cause as { name?: string } | undefined)?.name === 'TimeoutError') {
    return new UpstreamError(connectorId, 'timeout', detail, { cause: err });
  }
  if (e.name === 'TypeError' && /fetch failed/.test(e.message ?? '')) {
    return new UpstreamError(connectorId, 'unavailable', detail, { cause: err });
  }
  return new UpstreamError(connectorId, 'invalid_response', detail, { cause: err });
}
