import type { Middleware } from 'koa';

/**
 * GET /healthz for load balancers and container HEALTHCHECKs: 200 {"status":"ok"} while
 * the process serves HTTP. Deliberately cheap (no database round trip, no logging): it is
 * polled every few seconds, and a database outage is reported by the requests that need it.
 */
export const healthz: Middleware = async (ctx, next) => {
  if (ctx.path !== '/healthz' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { status: 'ok' };
};
