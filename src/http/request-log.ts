import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { logContext, type Logger } from '../log.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { upstreamCallObserver } from '../upstreams/http.ts';

/**
 * Per request: a request id (the caller's X-Request-Id when it is a short safe token, as
 * a proxy in front sets, else a fresh one), echoed in the response header and carried by
 * every log line written while serving it; then one access-log line and one observation
 * in the HTTP histogram. The line has the route pattern and the path, never the query
 * string: codes, states and tokens travel there (RFC 6749 §4.1.2, §4.2.2).
 */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function requestLog(log: Logger, metrics: Metrics): Middleware {
  const observeUpstream = metrics.observeUpstreamCall;
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    const requestId = SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    let thrown: unknown;
    await logContext.run({ requestId }, () => upstreamCallObserver.run(observeUpstream, async () => {
      try {
        await next();
      } catch (err) {
        thrown = err;
        throw err;
      } finally {
        // Koa answers what escapes with the error's status (its default handler), else 500.
        const status = thrown === undefined ? ctx.status : Number((thrown as { status?: unknown }).status) || 500;
        const pattern = (ctx as { _matchedRoute?: unknown })._matchedRoute;
        const route = typeof pattern === 'string' ? pattern : 'unmatched';
        const seconds = (performance.now() - started) / 1000;
        metrics.observeRequest(ctx.method, route, status, seconds);
        log.info('request', { method: ctx.method, route, path: ctx.path.slice(0, 256), status, durationMs: Math.round(seconds * 10000) / 10 });
      }
    }));
  };
}
