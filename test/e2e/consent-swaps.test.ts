import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser, type Page } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE, KIM_IDN_ASCII, OUTSIDER, STRING_VERIFIED } from '../fakes/fake-google.ts';

/**
 * Attack review of remembered consent and offline access: a consent given to one app
 * used by another, offline_access re-added for an app that may not refresh, and a consent
 * withdrawn while the app is refreshing.
 */
const OTHER = { clientId: 'notes', clientSecret: APP.clientSecret } as const; // third-party, like APP
const NO_REFRESH = { clientId: 'kiosk', clientSecret: APP.clientSecret } as const; // first-party, no refresh_token grant
const ODD_ID = { clientId: 'team/wiki?x=1#a b%2F', clientSecret: APP.clientSecret } as const; // third-party, an id no path segment can hold as is

function isAtApp(page: Page): boolean {
  return page.url.href.startsWith(APP.redirectUri);
}

/** Signs `who` in through `rp`; allows on the consent page when `allow` and one shows. */
async function signIn(browser: Browser, rp: oidc.Configuration, who: string, params: Record<string, string> = {}) {
  const req = await buildAuthRequest(rp, { scope: 'openid email offline_access', ...params });
  let page = await browser.visit(req.url, APP.redirectUri);
  if (!isAtApp(page) && /Continue with Google/.test(page.body)) page = await chooseUpstream(browser, page, 'google', who, {}, APP.redirectUri);
  const consentPage = isAtApp(page) ? undefined : page;
  if (consentPage) page = await browser.submit(consentPage, '/consent', {}, APP.redirectUri);
  assert.ok(isAtApp(page), page.body.slice(0, 500));
  return { tokens: await redeemCode(rp, page.url, req), consentPage };
}

describe('when one app tries to ride on what was allowed to another', () => {
  let s: Scenario;
  let wiki: oidc.Configuration;
  let notes: oidc.Configuration;
  let kiosk: oidc.Configuration;
  before(async () => {
    s = await startScenario({
      moreClients: [
        { clientId: OTHER.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri], grantTypes: ['authorization_code', 'refresh_token'] },
        { clientId: NO_REFRESH.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri], grantTypes: ['authorization_code'], firstParty: true },
      ],
    });
    wiki = await discoverDoorman(s.doorman.url);
    notes = await discoverDoorman(s.doorman.url, OTHER);
    kiosk = await discoverDoorman(s.doorman.url, NO_REFRESH);
  });
  after(() => s.close());

  it('then a consent remembered for the wiki does not spare another third-party app its consent page, with or without prompt=none', async () => {
    const browser = new Browser();
    const first = await signIn(browser, wiki, ALICE.sub);
    assert.ok(first.consentPage, 'the wiki asked');
    // Same browser, same Doorman session: prompt=none at the other app cannot skip consent.
    const silent = await buildAuthRequest(notes, { scope: 'openid email offline_access', prompt: 'none' });
    const back = await browser.visit(silent.url, APP.redirectUri);
    assert.equal(back.url.searchParams.get('error'), 'consent_required', back.url.href);
    const other = await signIn(browser, notes, ALICE.sub);
    assert.ok(other.consentPage, 'the other app shows its own consent page');
    assert.match(other.consentPage.body, /Access while you are away/);
  });

  it('then a code or refresh token of the wiki is refused to the other app', async () => {
    const { tokens } = await signIn(new Browser(), wiki, STRING_VERIFIED.sub);
    await assert.rejects(oidc.refreshTokenGrant(notes, tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');
    // The wiki's own refresh still works: the other app's attempt did not burn it.
    assert.ok((await oidc.refreshTokenGrant(wiki, tokens.refresh_token!)).access_token);
  });

  it('then offline_access asked by a first-party app that may not refresh is not re-added: no refresh token', async () => {
    const { tokens, consentPage } = await signIn(new Browser(), kiosk, KIM_IDN_ASCII.sub);
    assert.equal(consentPage, undefined);
    assert.equal(tokens.refresh_token, undefined);
    assert.doesNotMatch(tokens.scope ?? '', /offline_access/);
  });
});

describe('when an app\'s client_id holds a slash, a query, a fragment, a space and a percent sign', () => {
  let s: Scenario;
  before(async () => {
    s = await startScenario({ moreClients: [{ clientId: ODD_ID.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri] }] });
  });
  after(() => s.close());

  it('then the person can still withdraw it on the Account page, and its refresh token ends', async () => {
    const odd = await discoverDoorman(s.doorman.url, ODD_ID);
    const browser = new Browser();
    const { tokens, consentPage } = await signIn(browser, odd, ALICE.sub);
    assert.ok(consentPage);
    const account = await browser.visit(`${s.doorman.url}/account`);
    const done = await browser.submit(account, '/revoke');
    assert.match(done.body, /no longer has access/, done.body.slice(0, 300));
    await assert.rejects(oidc.refreshTokenGrant(odd, tokens.refresh_token!), (err: { error?: string }) => err.error === 'invalid_grant');
  });
});

describe('when a person withdraws an app while it is refreshing', () => {
  let s: Scenario;
  let wiki: oidc.Configuration;
  before(async () => {
    s = await startScenario();
    wiki = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then no token the racing refreshes got outlives the withdrawal', async () => {
    const browser = new Browser();
    const { tokens } = await signIn(browser, wiki, OUTSIDER.sub);
    const account = await browser.visit(`${s.doorman.url}/account`);
    // A chain of refreshes (each rotating the token) runs while the consent is withdrawn.
    const got: oidc.TokenEndpointResponse[] = [];
    const refreshing = (async () => {
      let current = tokens.refresh_token!;
      for (let i = 0; i < 20; i++) {
        try {
          const next = await oidc.refreshTokenGrant(wiki, current);
          got.push(next);
          current = next.refresh_token!;
        } catch (err) {
          // The withdrawal landed: the chain ends, and only for that reason.
          assert.equal((err as { error?: string }).error, 'invalid_grant', String(err));
          return;
        }
      }
    })();
    const revoked = browser.submit(account, `/account/apps/${APP.clientId}/revoke`);
    await Promise.all([refreshing, revoked]);
    assert.match((await revoked).body, /no longer has access/);
    for (const t of [tokens, ...got]) {
      assert.equal((await oidc.tokenIntrospection(wiki, t.access_token)).active, false, 'access token still active');
      const me = await fetch(`${s.doorman.url}/me`, { headers: { authorization: `Bearer ${t.access_token}` } });
      assert.equal(me.status, 401, 'userinfo still answers');
    }
    const last = got.at(-1)?.refresh_token ?? tokens.refresh_token!;
    await assert.rejects(oidc.refreshTokenGrant(wiki, last), (err: { error?: string }) => err.error === 'invalid_grant');
  });
});
