import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/outage.ts';
import type { Render } from './render.ts';

/**
 * What a person or a client is told while PostgreSQL is unreachable: 503 with
 * Retry-After, "temporarily unavailable", never "expired" or "refused" (which would send
 * them off to start again, or to blame the app, for nothing).
 */
export const DATABASE_OUTAGE_WORDS = {
  title: 'Temporarily unavailable',
  text: 'Doorman cannot complete sign-ins right now because its database is unreachable. This is on our side; please try again in a minute.',
};

/** The 503 page; `retryUrl` is where "Try again" leads (the same page for a GET). */
export function renderDatabaseOutage(render: Render, ctx: Parameters<Render>[0], retryUrl: string | undefined): void {
  ctx.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  render(ctx, 'error', { ...DATABASE_OUTAGE_WORDS, code: 'temporarily_unavailable', retryUrl, retryLabel: 'Try again' }, 503);
}

/**
 * oidc-provider's JSON endpoints (/token, /me, /token/introspection, ...) answer any
 * unexpected error with 500 `server_error`; when that error was a database outage this
 * turns it into 503 `temporarily_unavailable` with Retry-After (the error code RFC 6749
 * §4.1.2.1 defines for exactly this). Its HTML pages go through renderError instead.
 */
export function answerDatabaseOutages(provider: Provider): Middleware {
  const outages = new WeakSet<object>();
  provider.on('server_error', (ctx: object, err: unknown) => {
    if (isDatabaseUnavailable(err)) outages.add(ctx);
  });
  return async (ctx, next) => {
    await next();
    if (!outages.has(ctx)) return;
    ctx.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
    const body = ctx.body as { error?: unknown } | undefined;
    if (body && typeof body === 'object' && !Buffer.isBuffer(body) && body.error === 'server_error') {
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the authorization server is temporarily unavailable; retry later' };
    }
  };
}
