import type Provider from 'oidc-provider';
import type { Metrics } from './metrics.ts';

type TokenContext = { oidc?: { route?: string; params?: Record<string, unknown> } };

// base_model.js emits `<kind>.saved` when it stores a token and `<kind>.issued` when it
// stores nothing (a JWT-format token); either way one was handed out.
const ISSUED_KINDS = ['access_token', 'refresh_token', 'authorization_code', 'client_credentials'];

/**
 * Counts grants and issued tokens from oidc-provider's events
 * (node_modules/oidc-provider/lib: actions/token.js `grant.success`, shared/error_handler.js
 * `grant.error`, or `server_error` for a 5xx on the token route).
 */
export function countProviderEvents(provider: Provider, metrics: Metrics): void {
  const grantType = (ctx: TokenContext) => ctx.oidc?.params?.grant_type;
  provider.on('grant.success', (ctx: TokenContext) => metrics.countGrant(grantType(ctx), 'success'));
  provider.on('grant.error', (ctx: TokenContext, err: { error?: string }) => metrics.countGrant(grantType(ctx), err.error ?? 'error'));
  provider.on('server_error', (ctx: TokenContext) => {
    if (ctx.oidc?.route === 'token') metrics.countGrant(grantType(ctx), 'server_error');
  });
  // Event names built from the kinds are not in @types/oidc-provider's map of literal names.
  const on = provider.on.bind(provider) as (event: string, listener: () => void) => unknown;
  for (const kind of ISSUED_KINDS) {
    for (const event of ['saved', 'issued']) on(`${kind}.${event}`, () => metrics.countTokenIssued(kind));
  }
}
