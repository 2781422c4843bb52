import type { Middleware } from 'koa';
import { errors } from 'oidc-provider';
import { isDatabaseUnavailable, outageSummary } from '../db/outage.ts';
import { BrokerError, clientErrorStatus } from '../errors.ts';
import type { Logger } from '../log.ts';
import { renderDatabaseOutage, retryUrlOf } from './database-outage.ts';
import { defaultMessages, type Messages } from '../i18n/messages.ts';
import type { RenderPage } from './render.ts';

/**
 * The words for each error code a person can meet: locales/<lang>.json, keys
 * `error.<code>.title` and `error.<code>.text`; a code without them gets `error.internal`'s.
 */
export function errorMessageKey(code: string, messages: Messages = defaultMessages()): string {
  return messages.has(`error.${code}.title`) ? `error.${code}` : 'error.internal';
}

/** Turns BrokerErrors (and anything unexpected) into an error page; details go to the log only. */
export function errorHandler(render: RenderPage, log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (thrown) {
      // The adapter's answer when an interaction was used up by a racing request (oidc/adapter.ts).
      const err = thrown instanceof errors.SessionNotFound ? new BrokerError('interaction_expired', thrown.message, { status: 400, cause: thrown }) : thrown;
      if (isDatabaseUnavailable(err)) {
        log.error('database unavailable', { errorCode: 'temporarily_unavailable', path: ctx.path, error: outageSummary(err) });
        // A GET can simply be repeated; after a form post, the way back is the page it came from.
        return renderDatabaseOutage(render, ctx, retryUrlOf(ctx, err instanceof BrokerError ? err.retryUrl : undefined));
      }
      const known = err instanceof BrokerError;
      // Koa's and the body parser's own 4xx (413 too large, 415 charset, 400 malformed).
      const clientStatus = known ? undefined : clientErrorStatus(err);
      const code = known ? err.code : clientStatus === 413 ? 'too_large' : clientStatus ? 'bad_request' : 'internal';
      const status = known ? err.status : clientStatus ?? 500;
      (status >= 500 ? log.error : log.warn)('request failed', {
        errorCode: code, path: ctx.path, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        cause: known && err.cause instanceof Error ? err.cause.message : undefined,
      });
      render(ctx, 'error', { message: errorMessageKey(code), code, retryUrl: known ? err.retryUrl : undefined }, status);
    }
  };
}
