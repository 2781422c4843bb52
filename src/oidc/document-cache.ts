import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { routedPath } from '../http/routed-path.ts';

/**
 * Discovery and JWKS, answered from their serialized JSON. oidc-provider builds both
 * afresh for every request (discovery: some forty fields, every endpoint URL parsed;
 * then JSON.stringify), yet discovery changes only with the origin the request names
 * (oidc-provider builds its endpoint URLs from it) and JWKS only when the key ring
 * installs other keys. They are the most frequent requests an identity provider gets
 * (every RP and API checks them), so each is built once per origin / key set.
 *
 * A miss goes through oidc-provider and keeps what it answered; a hit replays it with the
 * headers oidc-provider's CORS middleware sets for these two routes (Vary: Origin, any
 * origin allowed), under the same route name for the access log and metrics.
 */
/** Discovery documents kept (origin and well-known path), besides the issuer's own. */
const MAX_DISCOVERY_DOCUMENTS = 16;

interface Kept { body: string; type: string; route: unknown; routeName: unknown }

export function cacheProviderDocuments(provider: Provider, publishedKeys: () => object): Middleware {
  // Both discovery documents (OpenID Connect Discovery, RFC 8414): oidc-provider serves
  // them under one route name, so pathFor names only one of them.
  const discoveryPaths = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);
  const jwksPath = routedPath(provider.pathFor('jwks'));
  // Per origin: a Host header is the client's to choose, so at most MAX_DISCOVERY_DOCUMENTS are kept
  // (the first ones seen, and the issuer's; any other is served uncached, evicting none).
  const discovery = new Map<string, Kept>();
  const issuerOrigin = new URL(provider.issuer).origin;
  let jwks: { source: object; kept: Kept } | undefined;

  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const path = routedPath(ctx.path);
    const isDiscovery = discoveryPaths.has(path);
    if (!isDiscovery && path !== jwksPath) return next();

    // oidc-provider builds discovery's URLs from ctx.href: the protocol and Host (with a
    // trusted proxy, X-Forwarded-Proto and -Host), or an absolute-form request target
    // (`GET http://host/...`), which is never kept. (Koa's ctx.origin is the Origin header.)
    const key = !isDiscovery ? undefined : ctx.originalUrl.startsWith('/') ? `${ctx.protocol}://${ctx.host}${path}` : undefined;
    if (isDiscovery && key === undefined) return next();
    const source = isDiscovery ? undefined : publishedKeys();
    const hit = isDiscovery ? discovery.get(key!) : jwks && jwks.source === source ? jwks.kept : undefined;
    if (hit) {
      ctx._matchedRoute = hit.route;
      (ctx as { _matchedRouteName?: unknown })._matchedRouteName = hit.routeName;
      ctx.vary('Origin');
      ctx.set('Access-Control-Allow-Origin', ctx.get('Origin') || '*');
      ctx.type = hit.type;
      ctx.body = hit.body;
      return;
    }

    await next();
    if (ctx.status !== 200 || ctx.body === null || typeof ctx.body !== 'object' || Buffer.isBuffer(ctx.body)) return;
    const kept: Kept = {
      body: JSON.stringify(ctx.body),
      type: ctx.response.get('Content-Type'),
      route: ctx._matchedRoute,
      routeName: (ctx as { _matchedRouteName?: unknown })._matchedRouteName,
    };
    ctx.body = kept.body;
    ctx.type = kept.type;
    if (!isDiscovery) jwks = { source: source!, kept };
    // The issuer's own origin is always kept: junk Host headers filling the slots first cannot push it out.
    else if (discovery.size < MAX_DISCOVERY_DOCUMENTS || key!.startsWith(`${issuerOrigin}/`)) discovery.set(key!, kept);
  };
}
