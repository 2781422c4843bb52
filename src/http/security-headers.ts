import type { Middleware } from 'koa';

/**
 * Headers for Doorman's own pages. No script runs on any page; styles are inline in the
 * layout. There is deliberately no form-action: login forms redirect to upstream
 * origins, which Chromium checks against form-action.
 */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'";

export const securityHeaders: Middleware = async (ctx, next) => {
  await next();
  if (ctx.response.is('html')) {
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('X-Frame-Options', 'DENY');
  }
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
};
