import { randomBytes, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/load.ts';
import { isDatabaseUnavailable } from '../db/outage.ts';
import type { Logger } from '../log.ts';
import type { TokenVault } from '../token-vault/vault.ts';
import type { UpstreamConnector } from '../upstreams/connector.ts';
import { revokeUpstreamTokensInBackground } from './upstream-token-revocation.ts';

/**
 * Upstream sign-out (`upstreams[].signOutUpstream`): after Doorman's own sign-out, the
 * browser goes on to the upstream's end_session_endpoint and comes back to
 * /upstream/<id>/signed-out, which continues where Doorman's sign-out was going (the
 * app's post_logout_redirect_uri, or Doorman's signed-out page). Google has no such
 * endpoint: its stored tokens are revoked in the background instead (./upstream-token-revocation.ts).
 *
 *   POST /session/end/confirm           (oidc-provider's; wrapped here)
 *   GET  /upstream/:connectorId/signed-out?state=
 *
 * Doorman's sign-out is finished and committed before any of this: an upstream that is
 * down, slow, or refuses only means the browser goes straight on, as without the setting.
 */
const SIGNED_IN_WITH = 'doorman.signed_in_with';
const RETURN = 'doorman.upstream_sign_out';
const RETURN_MINUTES = 15;

interface Deps { provider: Provider; config: Config; connectors: Map<string, UpstreamConnector>; tokenVault: TokenVault | undefined; log: Logger }

/** At sign-in: which upstream this browser's session came from, for its sign-out (only where configured). */
export function rememberSignInUpstream(ctx: Context, config: Config, connectorId: string): void {
  const upstream = config.upstreams.find((u) => u.id === connectorId);
  if (!upstream || !('signOutUpstream' in upstream) || !upstream.signOutUpstream) {
    // A later sign-in through another upstream in this browser (prompt=login, another person) is not
    // signed out upstream for the earlier one. (The cookie's path keeps it from being sent here to check.)
    if (config.upstreams.some((u) => 'signOutUpstream' in u && u.signOutUpstream)) ctx.cookies.set(SIGNED_IN_WITH, null, { path: '/session/end', signed: true });
    return;
  }
  ctx.cookies.set(SIGNED_IN_WITH, connectorId, { path: '/session/end', httpOnly: true, sameSite: 'lax', signed: true, overwrite: true, maxAge: config.ttl.session * 1000 });
}

/** Wraps oidc-provider's end_session confirmation: once it has ended the whole session, detour through the upstream. */
export function upstreamSignOut({ provider, config, connectors, tokenVault, log }: Deps): Middleware {
  return async (ctx: Context, next: Next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/session/end/confirm') return next();
    const connectorId = ctx.cookies.get(SIGNED_IN_WITH, { signed: true });
    let accountId: string | undefined;
    try {
      accountId = connectorId ? (await provider.Session.get(ctx as never)).accountId : undefined;
    } catch (err) {
      // Outside oidc-provider's error handling this would be Koa's plain 500: its own
      // end_session meets the same outage next and answers it with the 503 page.
      if (!isDatabaseUnavailable(err)) throw err;
      return next();
    }
    await next();
    const oidcParams = (ctx as { oidc?: { params?: { logout?: unknown } } }).oidc?.params;
    const location = ctx.response.get('location');
    // Only a sign-out of all apps ends the Doorman session (oidc-provider's `logout` choice); one app alone does not.
    if (!connectorId || !accountId || ctx.status !== 303 || !location || !oidcParams?.logout) return;
    // oidc-provider ends the previous person's session this way when another one signs in in the same
    // browser, then resumes that login at /auth/<uid>: no detour, and the cookie is the new sign-in's.
    if (new URL(location, config.issuer).pathname.startsWith('/auth/')) return;
    ctx.cookies.set(SIGNED_IN_WITH, null, { path: '/session/end', signed: true });
    const connector = connectors.get(connectorId);
    if (connector?.revokeToken && tokenVault) revokeUpstreamTokensInBackground({ vault: tokenVault, connector, log }, accountId);
    const state = randomBytes(24).toString('base64url');
    let upstreamUrl: URL | undefined;
    try {
      upstreamUrl = await connector?.endSessionUrl?.({ postLogoutRedirectUri: new URL(`${config.issuer}/upstream/${connectorId}/signed-out`), state });
    } catch (err) {
      log.warn('upstream sign-out skipped', { upstream: connectorId, error: err });
    }
    if (!upstreamUrl) return;
    ctx.cookies.set(RETURN, JSON.stringify({ state, connectorId, returnTo: new URL(location, config.issuer).href }),
      { path: `/upstream/${connectorId}/signed-out`, httpOnly: true, sameSite: 'lax', signed: true, overwrite: true, maxAge: RETURN_MINUTES * 60_000 });
    ctx.redirect(upstreamUrl.href);
  };
}

/** The upstream's post-logout redirect back to Doorman: on to where Doorman's sign-out was going. */
export function createUpstreamSignOutRouter({ config }: Pick<Deps, 'config'>): Router {
  const router = new Router();
  const upstreamIds = new Set(config.upstreams.map((u) => u.id));
  router.get('/upstream/:connectorId/signed-out', (ctx) => {
    ctx.status = 303;
    // Only a configured upstream's id (lowercase letters, digits, dashes) goes into a cookie
    // path: any other (a newline, a `;`, non-Latin-1) makes the cookie library throw, a 500.
    if (!upstreamIds.has(ctx.params.connectorId!)) return ctx.redirect(`${config.issuer}/session/end/success`);
    const path = `/upstream/${ctx.params.connectorId}/signed-out`;
    const saved = parseReturn(ctx.cookies.get(RETURN, { signed: true }));
    ctx.cookies.set(RETURN, null, { path, signed: true });
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    const matches = saved !== undefined && saved.connectorId === ctx.params.connectorId && sameText(saved.state, state);
    // The person is signed out of Doorman either way; without a matching state the app's
    // return URL is not trusted, and Doorman's own signed-out page is shown instead.
    ctx.redirect(matches ? saved.returnTo : `${config.issuer}/session/end/success`);
  });
  return router;
}

function parseReturn(value: string | undefined): { state: string; connectorId: string; returnTo: string } | undefined {
  try {
    const v = JSON.parse(value ?? '') as Record<string, unknown>;
    return typeof v.state === 'string' && typeof v.connectorId === 'string' && typeof v.returnTo === 'string' ? { state: v.state, connectorId: v.connectorId, returnTo: v.returnTo } : undefined;
  } catch {
    return undefined;
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
