import type { Logger } from '../log.ts';
import type { TokenVault } from '../token-vault/vault.ts';
import type { UpstreamConnector } from '../upstreams/connector.ts';

/**
 * Upstream sign-out for upstreams without an end-session endpoint (Google): once the
 * person has signed out of all apps, the tokens Doorman keeps for them there are deleted
 * and revoked at the upstream (RFC 7009). Runs in the background after the sign-out was
 * answered, so it never delays or fails it; an upstream that is down only means the
 * token is not revoked there (it is forgotten here all the same), and a log line says so.
 */
export function revokeUpstreamTokensInBackground(deps: { vault: TokenVault; connector: UpstreamConnector; log: Logger }, accountId: string): void {
  void revokeUpstreamTokens(deps, accountId).catch((err: unknown) => {
    deps.log.warn('upstream token revocation failed', { upstream: deps.connector.id, accountId, error: err });
  });
}

async function revokeUpstreamTokens({ vault, connector, log }: { vault: TokenVault; connector: UpstreamConnector; log: Logger }, accountId: string): Promise<void> {
  const forgotten = await vault.forget({ accountId, upstream: connector.id, reason: 'signed out of all apps (signOutUpstream)' });
  for (const tokens of forgotten) {
    // Google revokes the whole authorization for either token; the refresh token is the one that lives on.
    const token = tokens.refreshToken ?? tokens.accessToken;
    if (!token || !connector.revokeToken) continue;
    try {
      await connector.revokeToken(token);
      log.info('upstream tokens revoked', { upstream: connector.id, accountId });
    } catch (err) {
      log.warn('upstream token revocation failed; the tokens were deleted here', { upstream: connector.id, accountId, error: err });
    }
  }
}
