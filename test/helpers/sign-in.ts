import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { Browser, Page } from './browser.ts';
import { buildAuthRequest, redeemCode } from './rp.ts';
import { APP } from './start-doorman.ts';

/** How a person picks an account on each fake upstream's page: form action and fields. */
const UPSTREAM_PAGES: Record<string, { action: string; field: string }> = {
  google: { action: '/o/oauth2/v2/auth/decide', field: 'sub' },
  github: { action: '/login/oauth/authorize', field: 'login' },
  oauth2: { action: '/login/oauth/authorize', field: 'login' },
  facebook: { action: '/dialog/oauth', field: 'user' },
  oidc: { action: '/login', field: 'sub' },
};

/**
 * From Doorman's login page: choose `upstreamId`, pick `who` there (or cancel), follow
 * redirects until `stopAt`. When Doorman skipped its login page (one upstream, or a hint),
 * `loginPage` is already the upstream's page.
 */
export async function chooseUpstream(browser: Browser, loginPage: Page, upstreamId: string, who: string | 'cancel', extra: Record<string, string> = {}, stopAt: string = APP.redirectUri): Promise<Page> {
  assert.equal(loginPage.status, 200, loginPage.body);
  const skipped = !loginPage.url.pathname.startsWith('/interaction/');
  const upstreamPage = skipped ? loginPage : await browser.submit(loginPage, `/upstream/${upstreamId}`);
  assert.equal(upstreamPage.status, 200, upstreamPage.body);
  const { action, field } = UPSTREAM_PAGES[upstreamId]!;
  return browser.submit(upstreamPage, action, who === 'cancel' ? { deny: '1' } : { [field]: who, ...extra }, stopAt);
}

/** A whole login of a first-party app through `upstreamId`; resolves to the tokens and userinfo. */
export async function signInThrough(rp: oidc.Configuration, browser: Browser, upstreamId: string, who: string, extra: Record<string, string> = {}, params: Record<string, string> = {}) {
  const req = await buildAuthRequest(rp, { scope: 'openid email profile groups', ...params });
  const back = await chooseUpstream(browser, await browser.visit(req.url), upstreamId, who, extra);
  assert.ok(back.url.searchParams.get('code'), `expected a code, got ${back.url.href} ${back.body.slice(0, 500)}`);
  const tokens = await redeemCode(rp, back.url, req);
  const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
  return { tokens, userinfo };
}

/**
 * A second person signs in to APP in a browser where someone is signed in: oidc-provider
 * first ends the first person's session through a self-submitting sign-out form, then
 * resumes the login. Resolves to the second person's tokens.
 */
export async function switchPerson(rp: oidc.Configuration, browser: Browser, upstreamId: string, who: string) {
  const req = await buildAuthRequest(rp, { prompt: 'login' });
  const ending = await chooseUpstream(browser, await browser.visit(req.url), upstreamId, who);
  assert.match(ending.body, /action="[^"]*\/session\/end\/confirm"/, `expected the sign-out of the first person, got ${ending.url.href} ${ending.body.slice(0, 300)}`);
  const back = await browser.submit(ending, '/session/end/confirm', {}, APP.redirectUri);
  assert.ok(back.url.searchParams.get('code'), `expected a code, got ${back.url.href}`);
  return redeemCode(rp, back.url, req);
}
