import type { Middleware } from 'koa';
import type { Render } from './render.ts';

/**
 * GET / : what this is and where a person can go (the Account page). Nothing about the
 * configuration: no upstreams, no apps, no version.
 */
export function homePage(render: Render): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== '/' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    render(ctx, 'home', {});
  };
}
