import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Context } from 'koa';

const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export type Render = (ctx: Pick<Context, 'status' | 'type' | 'body' | 'set'>, view: string, data: Record<string, unknown>, status?: number) => void;

/** Renders views/<view>.eta (HTML-escaped by default) as an uncacheable page. */
export function createRenderer(): Render {
  const eta = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true });
  return (ctx, view, data, status = 200) => {
    ctx.status = status;
    ctx.type = 'html';
    // Pages carry per-login state (interaction ids, CSRF tokens): never cache them.
    ctx.set('Cache-Control', 'no-store');
    ctx.body = eta.render(view, data);
  };
}
