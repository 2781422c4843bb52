import { DATABASE_RETRY_AFTER_SECONDS } from '../db/outage.ts';
import type { RenderPage } from './render.ts';

/**
 * The 503 page while PostgreSQL is unreachable, with Retry-After: "temporarily
 * unavailable" (error.temporarily_unavailable in locales/), never "expired" or "refused"
 * (which would send people off to start again, or to blame the app, for nothing).
 * `retryUrl` is where "Try again" leads (the same page for a GET).
 */
export function renderDatabaseOutage(render: RenderPage, ctx: Parameters<RenderPage>[0], retryUrl: string | undefined): void {
  ctx.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  render(ctx, 'error', { message: 'error.temporarily_unavailable', code: 'temporarily_unavailable', retryUrl, retryLabel: 'error.tryAgain' }, 503);
}

/**
 * "Try again" after an outage: the same page for a GET (path and query only: a request
 * line in absolute form, GET http://elsewhere/..., puts a foreign origin into
 * originalUrl, which must not become the link), else `otherwise`.
 */
export function retryUrlOf(ctx: { method: string; path: string; search: string }, otherwise?: string): string | undefined {
  return ctx.method === 'GET' ? `${ctx.path}${ctx.search}` : otherwise;
}
