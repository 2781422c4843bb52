import { DATABASE_RETRY_AFTER_SECONDS } from '../db/outage.ts';
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
