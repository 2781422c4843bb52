import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { OCTOCAT } from '../fakes/fake-upstreams.ts';

/**
 * Attack review: the Account page's forms sent twice at once (two tabs, a double
 * click). Each change still keeps its rule, and the second answer is a clear page, never
 * a 5xx.
 */
describe('when the Account page changes identities twice at once', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  beforeEach(async () => {
    s = await startScenario({ with: ['github'], client: { firstParty: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  afterEach(() => s.close());

  const identities = (accountId: string) =>
    s.db.query<{ id: string; provider: string }>('SELECT id, provider FROM "Identity" WHERE "accountId" = $1 ORDER BY provider', [accountId]);

  it('then removing both of her two identities at once removes only one: the account keeps a way to sign in', async () => {
    const browser = new Browser();
    const accountId = (await signInThrough(rp, browser, 'google', ALICE.sub)).tokens.claims()!.sub;
    const authorize = await browser.submit(await browser.visit(new URL('/account', s.doorman.url)), '/account/link/github');
    const page = await browser.submit(authorize, '/login/oauth/authorize', { login: OCTOCAT.login });
    assert.match(page.body, /was linked to your account/);
    const both = await identities(accountId);
    assert.equal(both.length, 2);

    const answers = await Promise.all(both.map((i) => browser.submit(page, `/account/identities/${i.id}/unlink`, { confirm: 'yes' })));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 409], `answers ${statuses.join(' ')}`);
    assert.match(answers.find((a) => a.status === 409)!.body, /Error code: last_identity/);
    assert.equal((await identities(accountId)).length, 1, 'one identity left');
  });

  it('then linking the same GitHub account from two tabs at once links it once, and neither tab gets a 5xx', async () => {
    const browser = new Browser();
    const accountId = (await signInThrough(rp, browser, 'google', ALICE.sub)).tokens.claims()!.sub;
    const account = await browser.visit(new URL('/account', s.doorman.url));
    const authorizes = [await browser.submit(account, '/account/link/github'), await browser.submit(account, '/account/link/github')];
    const callbackPrefix = `${s.doorman.url}/upstream/github/callback`;
    const callbacks = [];
    for (const authorize of authorizes) callbacks.push((await browser.submit(authorize, '/login/oauth/authorize', { login: OCTOCAT.login }, callbackPrefix)).url);
    const answers = await Promise.all(callbacks.map((url) => browser.request(url)));
    const statuses = answers.map((a) => a.status);
    assert.deepEqual(statuses, [303, 303], `answers ${statuses.join(' ')}: ${answers.map((a) => a.body.slice(0, 200)).join(' | ')}`);
    assert.deepEqual((await identities(accountId)).map((i) => i.provider), ['github', 'google']);
  });
});
