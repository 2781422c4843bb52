import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { ClientMetadata } from 'oidc-provider';

/**
 * The Account page belongs to Doorman's own browser session (oidc-provider's), so it needs
 * no tokens: to sign in, it sends the browser through /auth as the built-in client below
 * with response_type=none (OAuth 2.0 Multiple Response Types §5), which establishes the
 * session and returns only the state.
 */
export const ACCOUNT_CLIENT_ID = 'doorman-account';
const STATE_COOKIE = 'doorman.account_state';

export function accountClientMetadata(issuer: string): ClientMetadata {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: 'your Doorman account',
    token_endpoint_auth_method: 'none',
    redirect_uris: [`${issuer}/account/callback`],
    response_types: ['none'],
    grant_types: [],
  };
}

export async function currentSession(provider: Provider, ctx: Context): Promise<{ accountId: string; uid: string } | undefined> {
  const session = await provider.Session.get(ctx as never);
  return session.accountId ? { accountId: session.accountId, uid: session.uid } : undefined;
}

/** Redirects to Doorman's own authorization endpoint for the Account page. */
export function redirectToSignIn(issuer: string, ctx: Context): void {
  const state = randomBytes(24).toString('base64url');
  ctx.cookies.set(STATE_COOKIE, state, { path: '/account/', httpOnly: true, sameSite: 'lax', signed: true, maxAge: 30 * 60 * 1000 });
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({ client_id: ACCOUNT_CLIENT_ID, response_type: 'none', scope: 'openid', redirect_uri: `${issuer}/account/callback`, state }).toString();
  ctx.status = 303;
  ctx.redirect(url.href);
}

/** True when the callback's state is the one this browser was sent with. */
export function takeSignInState(ctx: Context): boolean {
  const expected = ctx.cookies.get(STATE_COOKIE, { signed: true });
  ctx.cookies.set(STATE_COOKIE, null, { path: '/account/', signed: true });
  return typeof ctx.query.state === 'string' && expected !== undefined && ctx.query.state === expected;
}
