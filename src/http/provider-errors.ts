import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/outage.ts';
import { renderDatabaseOutage, retryUrlOf } from './database-outage.ts';
import type { ClientRegistry } from '../clients/registry.ts';
import { clientReturnUrl } from './app-links.ts';
import type { Render } from './render.ts';

/**
 * oidc-provider's error page (its `renderError`: /auth, /session/end, ...). Only the
 * app's own mistakes (unknown client, unregistered redirect_uri, ...) are a "refused"
 * request; a sign-in that is gone says it expired, a failure on Doorman's side says so,
 * and a database outage asks for a retry.
 */
export function renderProviderError(render: Render, clients: Pick<ClientRegistry, 'get'>) {
  return (ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, err: unknown): void => {
    if (isDatabaseUnavailable(err)) return renderDatabaseOutage(render, ctx, retryUrlOf(ctx));
    // The way back: the app the request named, when it is one of ours (its configured URIs only).
    const clientId = ctx.oidc?.client?.clientId;
    const back = { appUrl: clientReturnUrl(clients, clientId), appName: clients.get(clientId)?.name ?? clientId };
    if (err instanceof errors.SessionNotFound) {
      return render(ctx, 'error', { message: 'error.session_expired', code: out.error, ...back }, 400);
    }
    if (out.error === 'server_error') {
      return render(ctx, 'error', { message: 'error.internal', code: out.error, ...back }, 500);
    }
    // oidc-provider's description says what was wrong with the request, for the app's
    // developer; it stays in English (it is the library's) under translated words.
    render(ctx, 'error', { message: 'error.request_refused', details: out.error_description, code: out.error, ...back }, ctx.status >= 400 ? ctx.status : 400);
  };
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
