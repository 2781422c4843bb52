import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { ALICE_GH } from '../fakes/fake-upstreams.ts';

/**
 * Attack review: one link offer proved twice at the same moment (two tabs of the offer
 * page, each sent to Google). Exactly one proof links; the other is told the offer is
 * used, never a 5xx, and the identity is linked once.
 */
describe('when one link offer is proved twice at once', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  let alice: string;
  before(async () => {
    s = await startScenario({ with: ['github'], client: { firstParty: true } });
    rp = await discoverDoorman(s.doorman.url);
    alice = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.claims()!.sub;
  });
  after(() => s.close());

  it('then one proof links and signs in, the other gets the expired-offer page, and GitHub is linked once', async () => {
    const browser = new Browser();
    const offer = await chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), 'github', ALICE_GH.login, {}, 'never');
    assert.match(offer.body, /This email already has an account/);
    const callbackPrefix = `${s.doorman.url}/upstream/google/callback`;
    const pickers = [await browser.submit(offer, '/link/google'), await browser.submit(offer, '/link/google')];
    const callbacks = [];
    for (const picker of pickers) callbacks.push((await browser.submit(picker, '/decide', { sub: ALICE.sub }, callbackPrefix)).url);
    const answers = await Promise.all(callbacks.map((url) => browser.request(url)));
    const statuses = answers.map((a) => a.status).sort();
    assert.ok(statuses.every((st) => st < 500), `a proof answered ${statuses.join(' ')}: ${answers.map((a) => a.body.slice(0, 200)).join(' | ')}`);
    assert.equal(answers.filter((a) => a.status === 303).length, 1, `exactly one proof signs in: ${statuses.join(' ')}`);
    const loser = answers.find((a) => a.status !== 303)!;
    assert.match(loser.body, /Error code: link_expired/, loser.body.slice(0, 400));
    const linked = await s.db.query<{ accountId: string }>('SELECT "accountId" FROM "Identity" WHERE provider = $1', ['github']);
    assert.deepEqual(linked.map((r) => r.accountId), [alice]);
  });
});
