import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { DANA } from '../fakes/fake-upstreams.ts';
import { Browser } from '../helpers/browser.ts';
import { startLogoutReceiver, type LogoutReceiver } from '../helpers/logout-receiver.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Claims per app: APP ("wiki") sees only groups starting with `eng` and gets static claims;
 * PLAIN has no settings; PAIR_A and PAIR_B are pairwise apps on APP's host (one sector);
 * ELSEWHERE is a third-party pairwise app on another host. DANA's groups: engineering, admins.
 */
const secret = APP.clientSecret;
const PLAIN = { clientId: 'plain', clientSecret: secret };
const PAIR_A = { clientId: 'pair-a', clientSecret: secret };
const PAIR_B = { clientId: 'pair-b', clientSecret: secret };
const ELSEWHERE = { clientId: 'elsewhere', clientSecret: secret, redirectUri: 'http://localhost:4998/callback' };
const ORDERS = 'https://orders.example/';

/** DANA signs in to `rp`, allowing on the consent page if one shows; resolves to the tokens and whether consent was asked. */
async function signIn(rp: oidc.Configuration, params: Record<string, string> = {}, redirectUri: string = APP.redirectUri, tokenParams: Record<string, string> = {}) {
  const req = await buildAuthRequest(rp, { scope: 'openid groups', redirect_uri: redirectUri, ...params });
  const browser = new Browser();
  let page = await chooseUpstream(browser, await browser.visit(req.url), 'oidc', DANA.sub, {}, redirectUri);
  const consentAsked = !page.url.href.startsWith(redirectUri);
  if (consentAsked) page = await browser.submit(page, '/consent', {}, redirectUri);
  assert.ok(page.url.searchParams.get('code'), `${page.url.href} ${page.body.slice(0, 300)}`);
  const tokens = await oidc.authorizationCodeGrant(rp, page.url, { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce, idTokenExpected: true }, tokenParams);
  return { tokens, consentAsked, browser, sub: tokens.claims()!.sub };
}

describe('when apps have claim settings of their own', () => {
  let s: Scenario;
  let wiki: oidc.Configuration;
  let plain: oidc.Configuration;
  let pairA: oidc.Configuration;
  let pairB: oidc.Configuration;
  let elsewhere: oidc.Configuration;
  let receiver: LogoutReceiver;
  before(async () => {
    receiver = await startLogoutReceiver();
    const sameHost = { clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri], firstParty: true };
    s = await startScenario({
      with: ['oidc'],
      client: { firstParty: true, groupsFilter: { prefixes: ['eng'] }, staticClaims: { tenant: 'acme', plan: { seats: 20 } } },
      moreClients: [
        { clientId: PLAIN.clientId, ...sameHost },
        { clientId: PAIR_A.clientId, ...sameHost, subjectType: 'pairwise', postLogoutRedirectUris: [APP.postLogout], backchannelLogoutUri: receiver.uriFor(PAIR_A.clientId) },
        { clientId: PAIR_B.clientId, ...sameHost, subjectType: 'pairwise' },
        { clientId: ELSEWHERE.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [ELSEWHERE.redirectUri], subjectType: 'pairwise' },
      ],
      config: { resourceServers: [{ identifier: ORDERS, scopes: ['orders:read'] }], backchannelLogout: { timeoutMs: 800, retryDelayMs: 200 } },
    });
    await receiver.trust(s.doorman.url);
    const discover = (c: { clientId: string; clientSecret: string }) => discoverDoorman(s.doorman.url, c);
    [wiki, plain, pairA, pairB, elsewhere] = await Promise.all([discover(APP), discover(PLAIN), discover(PAIR_A), discover(PAIR_B), discover(ELSEWHERE)]);
  });
  after(async () => {
    await s.close();
    await receiver.close();
  });

  it('then one app gets its static claims and filtered groups at userinfo, and another app neither', async () => {
    const atWiki = await signIn(wiki);
    const wikiInfo = await oidc.fetchUserInfo(wiki, atWiki.tokens.access_token, atWiki.sub);
    assert.equal(wikiInfo.tenant, 'acme');
    assert.deepEqual(wikiInfo.plan, { seats: 20 });
    assert.deepEqual(wikiInfo.groups, ['engineering']);
    const atPlain = await signIn(plain);
    const plainInfo = await oidc.fetchUserInfo(plain, atPlain.tokens.access_token, atPlain.sub);
    assert.equal(plainInfo.tenant, undefined);
    assert.equal(plainInfo.plan, undefined);
    assert.deepEqual(plainInfo.groups, ['admins', 'engineering']);
    assert.equal(atPlain.sub, atWiki.sub, 'public apps share the account id as sub');
  });

  it('then a pairwise app sees a sub of its own, stable across sign-ins and shared only within its sector', async () => {
    const publicSub = (await signIn(plain)).sub;
    const first = (await signIn(pairA)).sub;
    const again = (await signIn(pairA)).sub;
    const sameSector = (await signIn(pairB)).sub;
    const otherSector = (await signIn(elsewhere, {}, ELSEWHERE.redirectUri)).sub;
    assert.notEqual(first, publicSub);
    assert.equal(again, first);
    assert.equal(sameSector, first);
    assert.notEqual(otherSector, first);
    assert.notEqual(otherSector, publicSub);
    assert.match(first, /^[\w-]{43}$/, 'an HMAC-SHA256, base64url');
  });

  it('then a pairwise app\'s userinfo, introspection and API tokens all carry its pairwise sub', async () => {
    const { tokens, sub } = await signIn(pairA, { scope: 'openid orders:read', resource: ORDERS });
    assert.equal((await oidc.fetchUserInfo(pairA, tokens.access_token, sub)).sub, sub);
    const introspected = await oidc.tokenIntrospection(pairA, tokens.access_token);
    assert.equal(introspected.active, true);
    assert.equal(introspected.sub, sub);
    const forApi = await signIn(pairA, { scope: 'openid orders:read', resource: ORDERS }, APP.redirectUri, { resource: ORDERS });
    assert.equal(forApi.sub, sub);
    assert.equal(decodeJwt(forApi.tokens.access_token).sub, sub);
  });

  it('then RP-initiated logout accepts a pairwise app\'s ID token as hint, ends the session, and its logout token names the pairwise sub', async () => {
    const { tokens, browser, sub } = await signIn(pairA);
    const confirm = await browser.visit(oidc.buildEndSessionUrl(pairA, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: APP.postLogout }));
    assert.equal(confirm.status, 200, confirm.body.slice(0, 300));
    const back = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' }, APP.postLogout);
    assert.ok(back.url.href.startsWith(APP.postLogout), back.url.href);
    const req = await buildAuthRequest(pairA, { scope: 'openid', prompt: 'none' });
    const after = await browser.visit(req.url, APP.redirectUri);
    assert.equal(after.url.searchParams.get('error'), 'login_required', 'the session is over');
    const logout = await receiver.waitFor((l) => l.claims.sid === tokens.claims()!.sid);
    assert.equal(logout.claims.sub, sub, 'the back-channel logout token carries the app\'s pairwise sub, never the account id');
  });

  it('then a third-party pairwise app asks consent once, and the remembered consent keeps the same sub', async () => {
    const first = await signIn(elsewhere, { scope: 'openid email' }, ELSEWHERE.redirectUri);
    assert.equal(first.consentAsked, true);
    const second = await signIn(elsewhere, { scope: 'openid email' }, ELSEWHERE.redirectUri);
    assert.equal(second.consentAsked, false, 'consent remembered for the account behind the pairwise sub');
    assert.equal(second.sub, first.sub);
  });
});
