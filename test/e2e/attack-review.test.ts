import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { accountRowCount, assertErrorPage } from '../helpers/assertions.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/** Attack review: what an upstream or a browser can send that the pieces before storage must stop. */
describe('when an upstream profile holds an unpaired UTF-16 surrogate', () => {
  let s: Scenario;
  before(async () => {
    s = await startScenario();
  });
  after(() => s.close());

  it('then it is the upstream\'s invalid_response (a page, 502), and nothing is written', async () => {
    // JSON.stringify writes it as the escape "\ud800", which PostgreSQL's jsonb refuses.
    s.google.users.push({ sub: '110169484474386277333', email: 'lone@example.com', email_verified: true, name: 'Lone\uD800Surrogate' });
    const rows = await accountRowCount(s);
    const browser = new Browser();
    const page = await chooseUpstream(browser, await browser.visit((await buildAuthRequest(await discoverDoorman(s.doorman.url))).url), 'google', '110169484474386277333');
    assertErrorPage(page, 502, 'invalid_response');
    assert.equal(await accountRowCount(s), rows);
  });
});
