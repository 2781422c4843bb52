import type { Middleware } from 'koa';

/**
 * Headers for Doorman's own pages. No script runs on any page; styles are inline in the
 * layout. There is deliberately no form-action: login forms redirect to upstream
 * origins, which Chromium checks against form-action.
 */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; base-uri 'none'; frame-ancestors 'none'";

// What ctx.response.is('html') matches (text/html, any parameters), without type-is's
// parse and MIME lookup on every response.
const HTML = /^\s*text\/html\s*(?:;|$)/i;

export const securityHeaders: Middleware = async (ctx, next) => {
  await next();
  if (HTML.test(ctx.response.get('Content-Type'))) {
    ctx.set('Content-Security-Policy', CSP);
    ctx.set('X-Frame-Options', 'DENY');
  }
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
};
