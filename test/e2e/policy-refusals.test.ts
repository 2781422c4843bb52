import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { ALICE, OUTSIDER } from '../fakes/fake-google.ts';
import { NEWBIE, OCTOCAT } from '../fakes/fake-upstreams.ts';
import { assertErrorPage } from '../helpers/assertions.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * A refusal by policy is the system working: the person gets a 403 page that says why,
 * and monitoring sees a warning, not an error (which would page someone for nothing).
 */
describe('when a sign-in is refused by policy', () => {
  let s: Scenario;
  const lines: { level: string; msg: string; errorCode?: string }[] = [];
  const log = createLogger('warn', (line) => lines.push(JSON.parse(line)));
  before(async () => {
    s = await startScenario({
      log,
      with: ['github'],
      client: { firstParty: true },
      upstreams: { google: { hostedDomain: 'example.com' }, github: { allowedOrganizations: ['acme'], allowSignup: false } },
    });
  });
  after(() => s.close());
  beforeEach(() => { lines.length = 0; });

  async function signIn(upstreamId: 'google' | 'github', who: string): Promise<Page> {
    const browser = new Browser();
    const rp = await discoverDoorman(s.doorman.url);
    return chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), upstreamId, who);
  }

  /** The refusal's effect: the person got no identity (and so no account) in Doorman. */
  async function assertNoIdentity(provider: 'google' | 'github', subject?: string): Promise<void> {
    const rows = await s.db.query<{ subject: string }>(
      'SELECT subject FROM "Identity" WHERE provider = $1 AND ($2::text IS NULL OR subject = $2)', [provider, subject ?? null]);
    assert.deepEqual(rows, [], `a refused sign-in left an identity: ${JSON.stringify(rows)}`);
  }

  function assertLoggedAsWarning(code: string): void {
    assert.deepEqual(lines.filter((l) => l.errorCode === code).map((l) => l.level), ['warn'], JSON.stringify(lines));
    assert.deepEqual(lines.filter((l) => l.level === 'error'), []);
  }

  it('then an account outside the hosted domain gets 403, logged at warn', async () => {
    assertErrorPage(await signIn('google', OUTSIDER.sub), 403, 'domain_not_allowed');
    await assertNoIdentity('google', OUTSIDER.sub);
    assertLoggedAsWarning('domain_not_allowed');
  });

  it('then a GitHub user outside the allowed organizations gets 403, logged at warn', async () => {
    assertErrorPage(await signIn('github', NEWBIE.login), 403, 'org_not_allowed');
    await assertNoIdentity('github');
    assertLoggedAsWarning('org_not_allowed');
  });

  it('then a first sign-in where sign-up is closed gets 403, logged at warn', async () => {
    assertErrorPage(await signIn('github', OCTOCAT.login), 403, 'signup_disabled');
    await assertNoIdentity('github');
    assertLoggedAsWarning('signup_disabled');
  });

  it('then a disabled account gets 403, logged at warn', async () => {
    const first = await signIn('google', ALICE.sub);
    assert.ok(first.url.href.startsWith(APP.redirectUri), 'Alice signs in once');
    await s.db.query(`UPDATE "Account" SET "disabledAt" = now() WHERE id = (SELECT "accountId" FROM "Identity" WHERE subject = $1)`, [ALICE.sub]);
    lines.length = 0;
    assertErrorPage(await signIn('google', ALICE.sub), 403, 'account_disabled');
    assertLoggedAsWarning('account_disabled');
  });
});
