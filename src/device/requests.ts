import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { routedPath } from '../http/routed-path.ts';
import { DEVICE_CODE_GRANT } from './grant.ts';
import { MAX_SHOWN_CODE_LENGTH, PREFILLED_USER_CODE } from './pages.ts';

/**
 * Two corrections in front of oidc-provider's device flow routes:
 *
 *  GET  /device?user_code=...  (verification_uri_complete, RFC 8628 §3.3.1) oidc-provider
 *       answers with a page that submits the code by script, which Doorman's CSP
 *       (http/security-headers.ts: no script) stops, and which would skip the person's
 *       look at the code. The code is taken out of the query instead and shown, filled
 *       in, on the entry page: one click, then the confirmation page as always.
 *  POST /device/auth  a client not registered for the device grant is refused by
 *       oidc-provider with `invalid_request`; RFC 8628 §3.2 (RFC 6749 §5.2) names this
 *       `unauthorized_client`. Rewritten only after the client authenticated, so an
 *       unauthenticated caller learns nothing about a client's grants.
 */
export function deviceFlowRequests(provider: Provider): Middleware {
  const verificationPath = routedPath(provider.pathFor('code_verification'));
  const authorizationPath = routedPath(provider.pathFor('device_authorization'));
  return async (ctx, next) => {
    const path = routedPath(ctx.path);
    if (ctx.method === 'GET' && path === verificationPath && 'user_code' in ctx.query) {
      const query = new URLSearchParams(ctx.querystring);
      const code = query.getAll('user_code');
      query.delete('user_code');
      ctx.querystring = query.toString();
      if (code.length === 1 && code[0]!.length <= MAX_SHOWN_CODE_LENGTH) ctx.state[PREFILLED_USER_CODE] = code[0];
      return next();
    }
    if (ctx.method !== 'POST' || path !== authorizationPath) return next();
    await next();
    const client = (ctx as unknown as KoaContextWithOIDC).oidc?.client;
    const body = ctx.body as { error?: unknown } | undefined;
    // oidc-provider's checkClientGrantType runs right after client authentication: with an
    // authenticated client lacking the grant, its invalid_request is that refusal.
    if (ctx.status === 400 && body?.error === 'invalid_request' && client && !client.grantTypeAllowed(DEVICE_CODE_GRANT)) {
      ctx.body = { error: 'unauthorized_client', error_description: `this client may not use the ${DEVICE_CODE_GRANT} grant` };
    }
  };
}
