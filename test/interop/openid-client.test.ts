import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';

/**
 * The same life of an app as the Authlib test, with openid-client (PKCE, as it recommends):
 * offline_access without prompt=consent, claims, refresh, RP-initiated logout. A refresh
 * token is for offline access, so it outlives the Doorman session.
 */
describe('when an openid-client app asks for offline_access the plain way', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario();
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then it signs in, refreshes, signs out, keeps refreshing, and signs in again without a consent page', async () => {
    const browser = new Browser();
    const req = await buildAuthRequest(rp, { scope: 'openid email profile offline_access' });
    assert.equal(req.url.searchParams.has('prompt'), false);
    const consent = await chooseUpstream(browser, await browser.visit(req.url), 'google', ALICE.sub, {}, APP.redirectUri);
    assert.match(consent.body, /Access while you are away/);
    const back = await browser.submit(consent, '/consent', {}, APP.redirectUri);
    const tokens = await redeemCode(rp, back.url, req);
    assert.ok(tokens.refresh_token);
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
    assert.equal(userinfo.email, 'alice@example.com');

    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token);
    const confirm = await browser.visit(oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP.postLogout }));
    await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' }, APP.postLogout);
    const afterLogout = await oidc.refreshTokenGrant(rp, refreshed.refresh_token!);
    assert.ok(afterLogout.access_token, 'offline access outlives the session');

    const again = await buildAuthRequest(rp, { scope: 'openid email profile offline_access' });
    const landed = await chooseUpstream(browser, await browser.visit(again.url), 'google', ALICE.sub, {}, APP.redirectUri);
    assert.ok(landed.url.href.startsWith(APP.redirectUri), 'no consent page the second time');
    assert.ok((await redeemCode(rp, landed.url, again)).refresh_token);
  });
});
