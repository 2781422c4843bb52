import type { Middleware } from 'koa';
import type { Render } from './render.ts';

/**
 * Refuses, before any handler or oidc-provider reads them, requests that no route can
 * use: a NUL byte in the path or query (no id, token or OAuth parameter holds one,
 * PostgreSQL text cannot store one, and oidc-provider would otherwise save it into the
 * interaction or session it keeps), or a Host header (with trustProxy, X-Forwarded-Host
 * or -Proto) that makes no origin: oidc-provider builds URLs from it. The answer is in
 * the caller's format, by oidc-provider's own rule (lib/shared/error_handler.js): a page
 * for a browser, OAuth error JSON for the rest.
 */
export function requestGuard(render: Render): Middleware {
  // The last origin found valid: nearly every request names the same one, so URL parsing
  // runs when it changes, not per request.
  let lastValidOrigin = '';
  const isValidOrigin = (origin: string) => {
    if (origin === lastValidOrigin) return true;
    if (!URL.canParse(origin)) return false;
    lastValidOrigin = origin;
    return true;
  };
  return async (ctx, next) => {
    const problem = /%00|\0/i.test(ctx.url) ? 'The address contains a NUL character.'
      : ctx.host === '' || isValidOrigin(`${ctx.protocol}://${ctx.host}`) ? undefined : 'The Host (or, behind a proxy, X-Forwarded-Host or -Proto) header is not valid.';
    if (!problem) return next();
    ctx.set('Cache-Control', 'no-store');
    if (!ctx.path.startsWith('/admin/api/') && ctx.accepts('json', 'html') === 'html') {
      render(ctx, 'error', { message: 'error.bad_request', details: problem, code: 'invalid_request' }, 400);
      return;
    }
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: problem };
  };
}
