import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';

/**
 * Doorman's own pages (the Account page, the admin console) belong to Doorman's browser
 * session (oidc-provider's), so they need no tokens: to sign in, a page sends the browser
 * through /auth as the built-in client below with response_type=none (OAuth 2.0 Multiple
 * Response Types §5), which establishes the session and returns only the state to the
 * page's own callback (`<area>/callback`).
 */
export const ACCOUNT_CLIENT_ID = 'doorman-account';

/** The pages signed in this way; each has its callback at `${area}/callback`. */
export type SignInArea = '/account' | '/admin';
const AREAS: readonly SignInArea[] = ['/account', '/admin'];
const stateCookie = (area: SignInArea) => `doorman.${area.slice(1)}_state`;

export function accountClientMetadata(issuer: string): ClientMetadata {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'your Doorman account',
    token_endpoint_auth_method: 'none',
    redirect_uris: AREAS.map((area) => `${issuer}${area}/callback`),
    response_types: ['none'],
    grant_types: [],
  };
}

export async function currentSession(provider: Provider, ctx: Context): Promise<{ accountId: string; uid: string } | undefined> {
  const session = await provider.Session.get(ctx as never);
  return session.accountId ? { accountId: session.accountId, uid: session.uid } : undefined;
}

/**
 * Redirects to Doorman's own authorization endpoint for `area`. `prompt: 'login'` asks
 * for a fresh sign-in even when a session exists (OIDC Core §3.1.2.1), for pages that
 * must not ride on an old session.
 */
export function redirectToSignIn(issuer: string, ctx: Context, area: SignInArea = '/account', opts: { prompt?: 'login' } = {}): void {
  const state = randomBytes(24).toString('base64url');
  ctx.cookies.set(stateCookie(area), state, { path: `${area}/`, httpOnly: true, sameSite: 'lax', signed: true, maxAge: 30 * 60 * 1000 });
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: ACCOUNT_CLIENT_ID, response_type: 'none', scope: 'openid', redirect_uri: `${issuer}${area}/callback`, state, ...opts,
  }).toString();
  ctx.status = 303;
  ctx.redirect(url.href);
}

/** True when the callback's state is the one this browser was sent with. */
export function takeSignInState(ctx: Context, area: SignInArea = '/account'): boolean {
  const expected = ctx.cookies.get(stateCookie(area), { signed: true });
  ctx.cookies.set(stateCookie(area), null, { path: `${area}/`, signed: true });
  return typeof ctx.query.state === 'string' && expected !== undefined && ctx.query.state === expected;
}
