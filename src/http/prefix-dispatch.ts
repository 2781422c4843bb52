import type { Middleware, Next } from 'koa';

// Any middleware, @koa/router's too (whose context adds params): each runs on Koa's context.
type AnyMiddleware = (ctx: never, next: Next) => unknown;
type Mounted = readonly [prefixes: readonly string[], middleware: AnyMiddleware];

/**
 * Doorman's own routers, each mounted under path prefixes, as one middleware: a request
 * runs, in order, those whose prefix its path starts with, and a path under none of them
 * (/token, /me, /jwks, discovery: oidc-provider's alone) goes on at once, with one scan of
 * the prefixes instead of a closure and a promise per router. The chain for each set of
 * matching routers is built once (there are at most 2^routers, in practice a handful).
 */
export function byPathPrefix(mounted: readonly Mounted[]): Middleware {
  if (mounted.length > 30) throw new Error('byPathPrefix: too many mounted middlewares for a bit mask');
  const chains = new Map<number, Middleware>();
  return (ctx, next) => {
    const path = ctx.path;
    let mask = 0;
    for (let i = 0; i < mounted.length; i++) {
      const prefixes = mounted[i]![0];
      for (const prefix of prefixes) {
        if (path.startsWith(prefix)) {
          mask |= 1 << i;
          break;
        }
      }
    }
    if (mask === 0) return next();
    let chain = chains.get(mask);
    if (!chain) {
      chain = inOrder(mounted.filter((_, i) => mask & (1 << i)).map(([, m]) => m));
      chains.set(mask, chain);
    }
    return chain(ctx, next);
  };
}

/** Koa's composition (koa-compose), for a fixed list: each middleware's next runs the one after it. */
function inOrder(list: readonly AnyMiddleware[]): Middleware {
  return (ctx, next) => {
    let last = -1;
    const run = (i: number): Promise<unknown> => {
      if (i <= last) return Promise.reject(new Error('next() called multiple times'));
      last = i;
      const middleware = list[i];
      if (!middleware) return Promise.resolve(next());
      try {
        return Promise.resolve(middleware(ctx as never, () => run(i + 1)));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return run(0);
  };
}
