import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode, type AuthRequest } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * A code or a rotated refresh token used twice at the same moment: exactly one request may
 * win, and since a second use is the signature of theft (RFC 9700 §4.14.2, RFC 6749
 * §4.1.2) the grant is revoked, so the winner's tokens die too. Each round fires the two
 * /token requests together; 30 rounds make a slipped race show up.
 */
const ROUNDS = 30;

type Settled<T> = PromiseSettledResult<T>;
const isInvalidGrant = (err: unknown) => (err as { error?: string }).error === 'invalid_grant';

/** The one fulfilled result of a round, after checking the other one failed with invalid_grant. */
function onlyWinner<T>(round: number, results: Settled<T>[]): T {
  const won = results.filter((r): r is PromiseFulfilledResult<T> => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(won.length, 1, `round ${round}: ${won.length} of ${results.length} requests succeeded`);
  assert.ok(lost.every((r) => isInvalidGrant(r.reason)), `round ${round}: the loser got ${String((lost[0]?.reason as Error)?.message)}`);
  return won[0]!.value;
}

/**
 * The winner's refresh token is refused and its access token is inactive, at introspection
 * and at the admin API, which reads tokens itself: the grant is gone.
 */
async function assertGrantRevoked(rp: oidc.Configuration, round: number, tokens: { access_token: string; refresh_token?: string }) {
  assert.ok(tokens.refresh_token, `round ${round}: offline_access gives a refresh token`);
  await assert.rejects(oidc.refreshTokenGrant(rp, tokens.refresh_token), isInvalidGrant, `round ${round}: the winner's refresh token still works`);
  assert.equal((await oidc.tokenIntrospection(rp, tokens.access_token)).active, false, `round ${round}: the winner's access token is still active`);
  const admin = await fetch(new URL('/admin/api/accounts', rp.serverMetadata().issuer), { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(admin.status, 401, `round ${round}: the winner's access token still opens the admin API`);
}

describe('when a code or refresh token is used twice at the same moment', () => {
  let s: Scenario;
  let rp: oidc.Configuration;

  before(async () => {
    s = await startScenario({ client: { firstParty: true, adminApi: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  /** A signed-in browser; later authorization requests come straight back with a code. */
  async function signedInBrowser(): Promise<Browser> {
    const browser = new Browser();
    const req = await buildAuthRequest(rp, { scope: 'openid' });
    const back = await chooseUpstream(browser, await browser.visit(req.url), 'google', ALICE.sub);
    await redeemCode(rp, back.url, req);
    await s.db.query('UPDATE "Account" SET admin = true');
    return browser;
  }

  async function freshCode(browser: Browser): Promise<{ callback: URL; req: AuthRequest }> {
    const req = await buildAuthRequest(rp, { scope: 'openid offline_access admin', prompt: 'consent' });
    const back = await browser.visit(req.url, APP.redirectUri);
    assert.ok(back.url.searchParams.get('code'), `expected a code, got ${back.url.href}`);
    return { callback: back.url, req };
  }

  it('then exactly one of two concurrent refreshes wins, and the grant is revoked', async () => {
    const browser = await signedInBrowser();
    for (let round = 0; round < ROUNDS; round++) {
      const { callback, req } = await freshCode(browser);
      const { refresh_token: refreshToken } = await redeemCode(rp, callback, req);
      assert.ok(refreshToken);
      const results = await Promise.allSettled([oidc.refreshTokenGrant(rp, refreshToken), oidc.refreshTokenGrant(rp, refreshToken)]);
      await assertGrantRevoked(rp, round, onlyWinner(round, results));
    }
  });

  it('then exactly one of two concurrent code redemptions wins, and the grant is revoked', async () => {
    const browser = await signedInBrowser();
    for (let round = 0; round < ROUNDS; round++) {
      const { callback, req } = await freshCode(browser);
      const results = await Promise.allSettled([redeemCode(rp, callback, req), redeemCode(rp, callback, req)]);
      await assertGrantRevoked(rp, round, onlyWinner(round, results));
    }
  });

  it('then exactly one of two concurrent uses of one pushed authorization request gets a code', async () => {
    const browser = await signedInBrowser();
    for (let round = 0; round < ROUNDS; round++) {
      const req = await buildAuthRequest(rp, { scope: 'openid' });
      const url = await oidc.buildAuthorizationUrlWithPAR(rp, Object.fromEntries(req.url.searchParams));
      const pages = await Promise.all([browser.visit(url, APP.redirectUri), browser.visit(url, APP.redirectUri)]);
      const codes = pages.filter((p) => p.url.searchParams.get('code'));
      assert.equal(codes.length, 1, `round ${round}: ${codes.length} codes for one request_uri`);
      const other = pages.find((p) => !p.url.searchParams.get('code'))!;
      assert.ok(other.status < 500, `round ${round}: the loser got ${other.status}`);
      assert.equal(other.url.searchParams.get('error') ?? /invalid_request_uri/.exec(other.body)?.[0], 'invalid_request_uri', `round ${round}: ${other.url.href}`);
    }
  });
});
