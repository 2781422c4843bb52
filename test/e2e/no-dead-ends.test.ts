import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { signInThrough } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/** Every page a person can land on leads somewhere: the home page, signed out, errors. */
describe('when a person lands on one of Doorman\'s own pages', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({ with: ['github'], client: { firstParty: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s?.close());

  it('then / says what this is and links to the Account page, revealing nothing of the configuration', async () => {
    const page = await new Browser().visit(new URL('/', s.doorman.url));
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.body, /href="\/account"/);
    // The stylesheet is the same on every page (it styles every provider's button); the rest is this page's.
    const content = page.body.replace(/<style>[\s\S]*<\/style>/, '');
    for (const secret of ['google', 'GitHub', 'github', APP.clientId, 'Team Wiki', s.google.issuer, s.github!.baseUrl]) {
      assert.ok(!content.includes(secret), `the home page mentions ${secret}`);
    }
  });

  it('then signing out of only the app, without a post_logout_redirect_uri, ends on a page with a way back to it and a way to sign in again', async () => {
    const browser = new Browser();
    const { tokens } = await signInThrough(rp, browser, 'google', ALICE.sub);
    const confirm = await browser.visit(oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token! }));
    // Without logout=yes oidc-provider ends only the app's part of the session and names the app.
    const bye = await browser.submit(confirm, '/session/end/confirm');
    assert.equal(bye.status, 200, bye.body.slice(0, 300));
    assert.match(bye.body, /signed out of Team Wiki/);
    assert.ok(bye.body.includes(`href="${APP.postLogout}"`), 'links back to the app');
    assert.match(bye.body, /href="\/account"/);
  });

  it('then signing out with no app named still offers to sign in again', async () => {
    const browser = new Browser();
    await signInThrough(rp, browser, 'google', ALICE.sub);
    const confirm = await browser.visit(new URL('/session/end', s.doorman.url));
    const bye = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    assert.equal(bye.status, 200);
    assert.match(bye.body, /href="\/account"/);
  });

  it('then an app\'s request with an unregistered redirect_uri is refused on a page leading back to that app, never to the given URI', async () => {
    const req = await buildAuthRequest(rp, { redirect_uri: 'https://evil.example/steal' });
    const page = await new Browser().visit(req.url);
    assert.equal(page.status, 400);
    assert.ok(page.body.includes(`href="${APP.postLogout}"`), page.body);
    assert.ok(!page.body.includes('href="https://evil.example'));
  });
});
