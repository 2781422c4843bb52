import * as oidc from 'openid-client';
import { z } from 'zod';
import { isLoopbackHost } from '../config/schema.ts';
import { UpstreamError, type JsonObject, type UpstreamTokens } from './connector.ts';
import { fetchWithin, startDeadline, toUpstreamError } from './http.ts';
import { pkceChallenge } from './pkce.ts';

/**
 * The authorization code leg shared by the plain-OAuth2 connectors (GitHub, Facebook,
 * generic OAuth2). openid-client does the protocol work (PKCE, state, error responses);
 * endpoints come from config because these upstreams have no discovery.
 */
export interface CodeFlowOptions {
  connectorId: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  /** How the client authenticates at the token endpoint. */
  tokenAuth: 'client_secret_post' | 'client_secret_basic';
  pkce: boolean;
  timeoutMs: number;
  /** Rewrites the token endpoint's answer before openid-client reads it (upstream quirks). */
  fixTokenResponse?: (res: Response) => Promise<Response>;
  /** How the upstream separates scopes in its token answer (GitHub: `,`); normalized to spaces. */
  scopeSeparator?: string;
}

const transactionSchema = z.object({ codeVerifier: z.string().optional() });

export interface CodeFlow {
  start(input: { redirectUri: URL; state: string; scope: string; params?: Record<string, string> }): Promise<{ url: URL; transaction: JsonObject }>;
  /** Verifies the callback and redeems the code within the login's deadline; `scope` is what was requested. */
  finish(input: { callbackUrl: URL; redirectUri: URL; transaction: JsonObject; scope: string }, signal: AbortSignal): Promise<UpstreamTokens>;
  /** RFC 6749 §6, within `timeoutMs` (UpstreamConnector.refreshTokens). */
  refresh(refreshToken: string): Promise<UpstreamTokens>;
}

export function createCodeFlow(o: CodeFlowOptions): CodeFlow {
  for (const url of [o.authorizationEndpoint, o.tokenEndpoint]) {
    const u = new URL(url);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname))) {
      throw new UpstreamError(o.connectorId, 'misconfigured', `${url}: https required (plain http only for loopback hosts)`);
    }
  }
  const auth = o.tokenAuth === 'client_secret_basic' ? oidc.ClientSecretBasic(o.clientSecret) : oidc.ClientSecretPost(o.clientSecret);
  const insecure = [o.authorizationEndpoint, o.tokenEndpoint].some((u) => new URL(u).protocol === 'http:');
  /** One per login: its requests share that login's deadline (a Configuration is cheap; these upstreams have no JWKS). */
  const configuration = (signal?: AbortSignal) => {
    // No issuer: these upstreams are not OIDC, so there is no `iss` to check anywhere.
    const config = new oidc.Configuration({ issuer: new URL(o.authorizationEndpoint).origin, authorization_endpoint: o.authorizationEndpoint, token_endpoint: o.tokenEndpoint },
      o.clientId, undefined, auth);
    config.timeout = o.timeoutMs / 1000;
    if (insecure) oidc.allowInsecureRequests(config);
    if (signal) {
      const fetchNow = fetchWithin(signal, o.connectorId);
      const fix = o.fixTokenResponse;
      config[oidc.customFetch] = async (url, options) => {
        const res = await fetchNow(url, options as RequestInit);
        return fix && url === o.tokenEndpoint ? fix(res) : res;
      };
    }
    return config;
  };
  const startConfig = configuration();

  return {
    async start({ redirectUri, state, scope, params = {} }) {
      const codeVerifier = o.pkce ? oidc.randomPKCECodeVerifier() : undefined;
      const url = oidc.buildAuthorizationUrl(startConfig, {
        redirect_uri: redirectUri.href,
        response_type: 'code',
        scope,
        state,
        ...(codeVerifier ? { code_challenge: pkceChallenge(codeVerifier), code_challenge_method: 'S256' } : {}),
        ...params,
      });
      const transaction: JsonObject = codeVerifier ? { codeVerifier } : {};
      return { url, transaction };
    },

    async finish({ callbackUrl, redirectUri, transaction, scope }, signal) {
      const { codeVerifier } = transactionSchema.parse(transaction);
      try {
        const tokens = await oidc.authorizationCodeGrant(configuration(signal), callbackUrl, {
          expectedState: callbackUrl.searchParams.get('state') ?? undefined,
          ...(codeVerifier ? { pkceCodeVerifier: codeVerifier } : {}),
          idTokenExpected: false,
        }, { redirect_uri: redirectUri.href });
        return normalizeTokens(tokens, scope, o.scopeSeparator);
      } catch (err) {
        throw toUpstreamError(o.connectorId, err, 'code exchange');
      }
    },

    async refresh(refreshToken) {
      const call = startDeadline(o.connectorId, o.timeoutMs);
      try {
        return normalizeTokens(await oidc.refreshTokenGrant(configuration(call.signal), refreshToken), '', o.scopeSeparator);
      } catch (err) {
        throw toUpstreamError(o.connectorId, err, 'token refresh');
      }
    },
  };
}

/** RFC 6749 §5.1: `scope` may be left out when it equals what was asked for (`fallbackScope`; '' on refresh: unchanged). */
export function normalizeTokens(tokens: oidc.TokenEndpointResponse, fallbackScope: string, separator = ' '): UpstreamTokens {
  const scope = typeof tokens.scope === 'string' ? tokens.scope.split(separator).map((s) => s.trim()).filter(Boolean).join(' ') : fallbackScope;
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresAt: typeof tokens.expires_in === 'number' ? new Date(Date.now() + tokens.expires_in * 1000) : undefined,
    scope,
  };
}
