import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ALICE } from '../fakes/fake-google.ts';
import { accountRowCount, assertErrorPage } from '../helpers/assertions.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Google documents two forms of `iss` in its ID tokens, `https://accounts.google.com` and
 * `accounts.google.com`; the look-alike's issuer is http://127.0.0.1:<port>, so its
 * scheme-less form is 127.0.0.1:<port>.
 */
async function withIdTokenIssuer<T>(s: Scenario, iss: string, run: () => Promise<T>): Promise<T> {
  s.google.idTokenIssuer = iss;
  try {
    return await run();
  } finally {
    s.google.idTokenIssuer = undefined;
  }
}

describe('when Google issues ID tokens with either documented iss form', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ client: { firstParty: true } }); });
  after(() => s.close());

  it('then the scheme-less form signs in', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const schemeless = s.google.issuer.replace(/^http:\/\//, '');
    const { userinfo } = await withIdTokenIssuer(s, schemeless, () => signInThrough(rp, new Browser(), 'google', ALICE.sub));
    assert.equal(userinfo.email, 'alice@example.com');
  });

  for (const [label, iss] of [
    ['another issuer', 'https://accounts.example.org'],
    ['the issuer with another scheme', (s: Scenario) => s.google.issuer.replace(/^http:/, 'https:')],
    ['the scheme-less form with a path', (s: Scenario) => `${s.google.issuer.replace(/^http:\/\//, '')}/x`],
  ] as const) {
    it(`then ${label} is refused as unverifiable and nothing is written`, async () => {
      const rp = await discoverDoorman(s.doorman.url);
      const before = await accountRowCount(s);
      const browser = new Browser();
      const page = await withIdTokenIssuer(s, typeof iss === 'string' ? iss : iss(s), async () =>
        chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), 'google', ALICE.sub));
      assertErrorPage(page, 502, 'invalid_response');
      assert.match(page.body, /could not be verified/);
      assert.equal(await accountRowCount(s), before);
    });
  }
});

describe('when the same provider is configured as a generic OIDC upstream', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ upstream: { type: 'oidc', displayName: 'Google (generic)', userinfo: false } }); });
  after(() => s.close());

  it('then the scheme-less iss is refused: the exception is Google\'s alone', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const browser = new Browser();
    const page = await withIdTokenIssuer(s, s.google.issuer.replace(/^http:\/\//, ''), async () =>
      chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), 'google', ALICE.sub));
    assertErrorPage(page, 502, 'invalid_response');
    assert.equal(await accountRowCount(s), 0);
  });
});
