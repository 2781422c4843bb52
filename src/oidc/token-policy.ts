import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { AccessToken, Client, ClientCredentials, KoaContextWithOIDC, RefreshToken } from 'oidc-provider';
import type { ClientRegistry } from '../clients/registry.ts';
import { ConsumeRaceLostError } from './adapter.ts';

/**
 * Who may learn about or end a token, and what a code, refresh token or pushed request used
 * twice at the same moment does. Wired into oidc-provider by configuration.ts (the two
 * policies) and app.ts (the consume race).
 */

type IntrospectableToken = AccessToken | ClientCredentials | RefreshToken;
type TokenPolicy = (ctx: KoaContextWithOIDC, client: Client, token: IntrospectableToken) => boolean;

/**
 * features.introspection.allowedPolicy. oidc-provider's default answers any confidential
 * client about any token, so one app could read the sub and scope of another app's tokens.
 * Here a client learns about its own tokens; a resource server (`canIntrospect`) also about
 * the access tokens (user and client-credentials) of the clients it lists, never their
 * refresh tokens, which only the client holding them ever presents. Everyone else gets the
 * same `{active: false}` as for an unknown token (RFC 7662 §2.2), so nothing leaks.
 */
export function introspectionPolicy(clients: Pick<ClientRegistry, 'get'>): TokenPolicy {
  return (_ctx, client, token) => {
    if (token.clientId === client.clientId) return true;
    if (token.kind === 'RefreshToken' || !token.clientId) return false;
    return clients.get(client.clientId)?.canIntrospect.includes(token.clientId) ?? false;
  };
}

/**
 * features.revocation.allowedPolicy: a client revokes only its own tokens. oidc-provider's
 * default refuses a foreign token to a confidential client with invalid_request; RFC 7009
 * §2.2 lets the server answer 200 for a token it will not revoke, which also does not tell
 * the caller that the token exists.
 */
export const revocationPolicy: TokenPolicy = (_ctx, client, token) => token.clientId === client.clientId;

/**
 * oidc-provider finds a code or refresh token, checks `consumed`, and consumes it later, so
 * two requests with the same one can both pass the check. The adapter's `consume` lets
 * only one of them through and throws ConsumeRaceLostError at the other; this makes the
 * loser end exactly as oidc-provider ends a replay it sees (lib/helpers/grant_source.js,
 * lib/actions/grants/refresh_token.js): the grant is revoked, so the winner's new tokens
 * die with it (RFC 9700 §4.14.2, RFC 6749 §4.1.2), and the answer is invalid_grant. No
 * grace window: a second use is what theft looks like. oidc-provider has no hook between
 * its check and its consume, hence wrapping the two models' `consume`.
 */
export function treatConsumeRacesAsReplays(provider: Provider): void {
  const singleUse = [
    [provider.AuthorizationCode, () => new errors.InvalidGrant('authorization code already consumed')],
    [provider.RefreshToken, () => new errors.InvalidGrant('refresh token already used')],
    // A pushed authorization request (RFC 9126 §4) used twice: refused as oidc-provider refuses a used one.
    // It has no grant yet to revoke: the request was only pushed, never granted.
    [provider.PushedAuthorizationRequest, () => new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used')],
  ] as const;
  treatReplayDetectionRaces(provider);
  for (const [Model, refusal] of singleUse) {
    const consume = Model.prototype.consume;
    Model.prototype.consume = async function consumeOnce(this: { grantId?: string }) {
      try {
        await consume.call(this);
      } catch (err) {
        if (!(err instanceof ConsumeRaceLostError)) throw err;
        if (this.grantId) await revokeGrant(provider, this.grantId);
        throw refusal();
      }
    };
  }
}

/**
 * The same race for a DPoP proof (RFC 9449 §11.1): ReplayDetection.unique finds, then saves,
 * so two requests with one proof can both find nothing. The adapter writes the row only
 * once; the loser is told "not unique", and oidc-provider refuses it as the replay it is.
 */
function treatReplayDetectionRaces(provider: Provider): void {
  const ReplayDetection = provider.ReplayDetection as unknown as { unique(iss: string, jti: string, exp: number): Promise<boolean> };
  const unique = ReplayDetection.unique.bind(ReplayDetection);
  ReplayDetection.unique = async (iss, jti, exp) => {
    try {
      return await unique(iss, jti, exp);
    } catch (err) {
      if (err instanceof ConsumeRaceLostError) return false;
      throw err;
    }
  };
}

/** What oidc-provider's revoke(ctx, grantId) does for Doorman's grant types: every token of the grant, then the grant. */
async function revokeGrant(provider: Provider, grantId: string): Promise<void> {
  await Promise.all([
    provider.AccessToken.revokeByGrantId(grantId),
    provider.RefreshToken.revokeByGrantId(grantId),
    provider.AuthorizationCode.revokeByGrantId(grantId),
    provider.Grant.adapter.destroy(grantId),
  ]);
}
