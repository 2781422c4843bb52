import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';

type LogoutIdToken = InstanceType<Provider['IdToken']> & { mask: Record<string, null> };

/**
 * A Logout Token (OIDC Back-Channel Logout 1.0 §2.4) for `client`, signed by the
 * provider's own IdToken model with `use: 'logout'` (typ logout+jwt, aud the client, iss,
 * iat, exp two minutes on, the client's ID token alg): the token oidc-provider's
 * Client#backchannelLogout (lib/models/client.js) builds, made here because its delivery
 * is replaced (./delivery.ts). A fresh `jti` per attempt: a retry is a new token, which
 * an app that already acted on the first one treats as a no-op.
 */
export function signLogoutToken(provider: Provider, client: Client, accountId: string, sid: string | null): Promise<string> {
  const token = new provider.IdToken({ sub: accountId }, { client }) as LogoutIdToken;
  // `sub` is always included (it is only masked from the scope-based claim filter);
  // the Claims model applies a pairwise subject when the client has one.
  token.mask = { sub: null };
  token.set('events', { 'http://schemas.openid.net/event/backchannel-logout': {} });
  token.set('jti', randomUUID());
  if (sid && (client as Client & { backchannelLogoutSessionRequired?: boolean }).backchannelLogoutSessionRequired) token.set('sid', sid);
  return token.issue({ use: 'logout' });
}
