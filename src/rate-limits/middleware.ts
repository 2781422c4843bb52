import { createHash } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Render } from '../http/render.ts';
import type { Logger } from '../log.ts';
import { claimedClientAuth, isFailedClientAuth, type ClientAuthClaim } from './claimed-client-auth.ts';
import { ipKey } from './client-ip.ts';
import { routedPath } from '../http/routed-path.ts';
import { leaveLoginStartCheck } from './login-page-start.ts';
import type { Limit, RateLimiters, Verdict } from './limiters.ts';

/**
 * Where each limit applies. Everything else (discovery, JWKS, /me, the login page GET,
 * consent, ...) passes with a few string comparisons and no store access.
 *
 *   POST /token, /token/introspection, /token/revocation,
 *        /request (PAR, which authenticates clients too)   clientAuthFailuresPerIp + PerClient:
 *        a wrong secret is counted before it is answered (one upsert each), a right one
 *        only checked, against the blocked keys in memory (blocked-keys.ts: no statement;
 *        a read of the table while that list is incomplete, and to confirm a refusal; with
 *        Redis a read of Redis); the right secret too is refused once over the limit
 *   GET|POST /auth                                          loginStartsPerIp (one upsert; also
 *        the start when it goes straight to the upstream, interactions/direct-start.ts)
 *   POST /interaction/:uid/upstream/:id, .../link/:id,
 *        /account/link/:id; GET /interaction/:uid/upstream/:id
 *        (the login page skipped)                           loginStartsPerIp
 *   GET  /interaction/:uid, only when it sends the browser
 *        straight to the upstream (login-page-start.ts)      loginStartsPerIp
 *   POST /device/auth (device authorization)                loginStartsPerIp, then as /token
 *   GET  /device (the page a person enters a device's code on) loginStartsPerIp
 *   POST /device (a code entered, confirmed or denied)      userCodeAttemptsPerIp
 *   GET  /upstream/:id/callback                             upstreamCallbacksPerIp
 *   /admin/api/* with a bearer token                        adminRequestsPerToken (before the token is looked up)
 *
 * Refusals are 429 with Retry-After (RFC 6585 §4): OAuth-style JSON for apps and the admin
 * API, the error page for a person's browser.
 */
export function createRateLimits(deps: { limiters: RateLimiters; provider: Provider; render: Render; log: Logger }): Middleware {
  const { limiters, render, log } = deps;
  const clientAuthPaths = new Set(['token', 'introspection', 'revocation', 'pushed_authorization_request'].map((route) => routedPath(deps.provider.pathFor(route))));
  const authorizationPath = routedPath(deps.provider.pathFor('authorization'));
  // The device flow's routes exist only while it is on (oidc-provider's pathFor throws for the others).
  const servedPath = (route: string) => {
    try {
      return routedPath(deps.provider.pathFor(route));
    } catch {
      return undefined;
    }
  };
  const deviceAuthorizationPath = servedPath('device_authorization');
  const userCodePath = servedPath('code_verification');
  const loginStarts = limiters.limit('loginStartsPerIp');
  const callbacks = limiters.limit('upstreamCallbacksPerIp');
  const admin = limiters.limit('adminRequestsPerToken');
  const failuresPerIp = limiters.limit('clientAuthFailuresPerIp');
  const failuresPerClient = limiters.limit('clientAuthFailuresPerClient');
  const userCodes = limiters.limit('userCodeAttemptsPerIp');

  const refusePage = (ctx: Context, limit: Limit, verdict: Verdict, back: { retryUrl?: string; retryLabel?: string } = {}) => {
    noteBlocked(log, limit, verdict, ctx.ip);
    const seconds = retryAfter(ctx, verdict);
    // Words in locales/: error.rate_limited (seconds) or, for long waits, error.rate_limited_long (minutes).
    const message = seconds < 90 ? 'error.rate_limited' : 'error.rate_limited_long';
    render(ctx, 'error', { message, vars: { seconds, minutes: Math.ceil(seconds / 60) }, code: 'rate_limited', ...back }, 429);
  };
  const refuseJson = (ctx: Context, limit: Limit, verdict: Verdict, what: string) => {
    noteBlocked(log, limit, verdict, ctx.ip);
    const seconds = retryAfter(ctx, verdict);
    ctx.status = 429;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'rate_limited', error_description: `${what}; try again in ${seconds} seconds` };
  };

  const guardPage = async (ctx: Context, next: Next, limit: Limit, back?: { retryUrl: string; retryLabel: string }) => {
    const verdict = await limit.consume(ipKey(ctx.ip));
    return verdict.refusedForMs ? refusePage(ctx, limit, verdict, back) : next();
  };

  const guardClientAuth = async (ctx: Context, next: Next) => {
    const ip = ipKey(ctx.ip);
    let claim: ClientAuthClaim;
    try {
      claim = await claimedClientAuth(ctx);
    } catch {
      ctx.status = 400; // the body could not be read (the connection broke off)
      ctx.body = { error: 'invalid_request', error_description: 'failed to read the request body' };
      return;
    }
    // Static clients come from memory; an unknown id is not looked up in the database.
    // Only known clients get a per-client count, so made-up ids cannot fill the store.
    const client = claim.clientId === undefined ? undefined : await deps.provider.Client.find(claim.clientId);
    const clientKey = client ? hashIfLong(client.clientId) : undefined;
    const refuse = (byIp: Verdict, byClient: Verdict | undefined) => {
      const [limit, verdict] = (byClient?.refusedForMs ?? 0) > byIp.refusedForMs ? [failuresPerClient, byClient!] : [failuresPerIp, byIp];
      refuseJson(ctx, limit, verdict, 'too many failed client authentications');
    };

    if (await isFailedClientAuth(claim, client)) {
      // A sure failure is counted first, atomically, so a burst sent at once cannot all
      // pass a check made before any of them was counted. Under the limit, oidc-provider
      // answers it (invalid_client) as usual.
      const [byIp, byClient] = await Promise.all([failuresPerIp.consume(ip), clientKey ? failuresPerClient.consume(clientKey) : undefined]);
      if (byIp.refusedForMs || byClient?.refusedForMs) return refuse(byIp, byClient);
      return next();
    }
    // Probably right: checked in memory, no statement, on the hot path of every token request.
    // Another process's block may reach this one a few milliseconds late (blocked-keys.ts);
    // the failures themselves are counted exactly, above, so guessing gains nothing.
    const [byIp, byClient] = await limiters.checkTogether(clientKey ? [[failuresPerIp, ip], [failuresPerClient, clientKey]] : [[failuresPerIp, ip]]) as [Verdict, Verdict | undefined];
    if (byIp.refusedForMs || byClient?.refusedForMs) return refuse(byIp, byClient);
    await next();
    if (ctx.status === 401 && (ctx.body as { error?: unknown } | undefined)?.error === 'invalid_client') {
      // A failure the claim did not foretell (an expired secret, say): counted afterwards.
      const [ipFull, clientFull] = await Promise.all([failuresPerIp.count(ip), clientKey ? failuresPerClient.count(clientKey) : false]);
      if (ipFull) log.warn('rate limit reached', { limit: failuresPerIp.name, ip: ctx.ip });
      if (clientFull) log.warn('rate limit reached', { limit: failuresPerClient.name, clientId: claim.clientId });
    }
  };

  // A device authorization request starts a sign-in (and stores a code) and authenticates its client.
  const guardDeviceStart = async (ctx: Context, next: Next) => {
    const verdict = await loginStarts.consume(ipKey(ctx.ip));
    return verdict.refusedForMs ? refuseJson(ctx, loginStarts, verdict, 'too many sign-ins started') : guardClientAuth(ctx, next);
  };

  const guardAdmin = async (ctx: Context, next: Next) => {
    const token = /^bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
    if (!token) return next(); // refused with 401 at once, without the store
    // The key is a hash: tokens are never stored or logged.
    const verdict = await admin.consume(createHash('sha256').update(token).digest('base64url'));
    return verdict.refusedForMs ? refuseJson(ctx, admin, verdict, 'too many admin API requests with this token') : next();
  };

  return (ctx, next) => {
    const path = routedPath(ctx.path);
    // Both routers answer HEAD with the GET route.
    const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
    if (method === 'POST' && clientAuthPaths.has(path)) return guardClientAuth(ctx, next);
    if (path === authorizationPath && (method === 'GET' || method === 'POST')) return guardPage(ctx, next, loginStarts);
    if (method === 'POST' && path === deviceAuthorizationPath) return guardDeviceStart(ctx, next);
    // Every code entered is counted before it is looked up, right or wrong: counting only
    // wrong ones would let a burst all pass one check, and refunding right ones would let
    // a guesser interleave a code of their own.
    if (method === 'POST' && path === userCodePath) return guardPage(ctx, next, userCodes, { retryUrl: userCodePath, retryLabel: 'device.enterAgain' });
    if (method === 'GET' && path === userCodePath) return guardPage(ctx, next, loginStarts);
    if ((method === 'POST' || method === 'GET') && LOGIN_START.test(path)) return guardPage(ctx, next, loginStarts);
    if (method === 'GET' && LOGIN_PAGE.test(path)) {
      leaveLoginStartCheck(ctx, async () => {
        const verdict = await loginStarts.consume(ipKey(ctx.ip));
        if (verdict.refusedForMs) refusePage(ctx, loginStarts, verdict);
        return !verdict.refusedForMs;
      });
    }
    if (method === 'GET' && CALLBACK.test(path)) return guardPage(ctx, next, callbacks);
    if (path.startsWith('/admin/api/')) return guardAdmin(ctx, next);
    return next();
  };
}

const LOGIN_START = /^\/(?:interaction\/[^/]+\/(?:upstream|link)|account\/link)\/[^/]+$/;
const LOGIN_PAGE = /^\/interaction\/[^/]+$/;
const CALLBACK = /^\/upstream\/[^/]+\/callback$/;

function retryAfter(ctx: Context, verdict: Verdict): number {
  const seconds = Math.ceil(verdict.refusedForMs / 1000);
  ctx.set('Retry-After', String(seconds));
  return seconds;
}

function noteBlocked(log: Logger, limit: Limit, verdict: Verdict, ip: string): void {
  if (verdict.justBlocked) log.warn('rate limit reached', { limit: limit.name, ip });
}

/** Keys are at most 255 characters in the store; a configured client_id may be longer. */
function hashIfLong(value: string): string {
  return value.length <= 100 ? value : createHash('sha256').update(value).digest('base64url');
}
