import type { Context } from 'koa';
import type { Broker } from '../interactions/broker.ts';
import type { ConsoleAdmin } from './session.ts';

/** What every console page handler shares: the admin guard's shape and the page basics. */

/** Wraps a handler so only a signed-in admin reaches it (and a POST only with the console's CSRF token). */
export type AsAdmin = (handler: (ctx: Context, admin: ConsoleAdmin) => Promise<void>) => (ctx: Context) => Promise<void>;

export function page(admin: ConsoleAdmin, title: string) {
  return { title, csrf: admin.csrf, adminId: admin.accountId };
}

export function bodyOf(ctx: Context): Record<string, unknown> {
  return (ctx.request.body as Record<string, unknown> | undefined) ?? {};
}

/** The configured upstreams, for a page's pickers and filters. */
export function upstreamChoices(broker: Broker): { id: string; displayName: string }[] {
  return [...broker.connectors.values()].map((c) => ({ id: c.id, displayName: c.displayName }));
}

/** A UTC time to the minute, as every console page shows times. */
export function when(at: Date): string {
  return at.toISOString().slice(0, 16).replace('T', ' ');
}

/** After a form or a sign-in: the browser GETs `to` (303 See Other, so a reload does not resubmit). */
export function seeOther(ctx: Context, to: string): void {
  ctx.status = 303;
  ctx.redirect(to);
}
