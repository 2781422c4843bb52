import * as oidc from 'openid-client';
import { APP } from './start-doorman.ts';

/**
 * A downstream app (relying party) built on openid-client, as an internal app would use
 * Doorman. allowInsecureRequests only because the test Doorman is http on loopback.
 */
export async function discoverDoorman(issuer: string, client: { clientId: string; clientSecret?: string } = APP): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), client.clientId, undefined,
    client.clientSecret ? oidc.ClientSecretBasic(client.clientSecret) : oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

export interface AuthRequest { url: URL; state: string; nonce: string; verifier: string }

export async function buildAuthRequest(config: oidc.Configuration, params: Record<string, string> = {}): Promise<AuthRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: APP.redirectUri,
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...params,
  });
  return { url, state, nonce, verifier };
}

export function redeemCode(config: oidc.Configuration, callbackUrl: URL, req: AuthRequest) {
  return oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce, idTokenExpected: true });
}
