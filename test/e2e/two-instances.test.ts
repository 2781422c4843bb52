import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import type { Config } from '../../src/config/load.ts';
import type { RunningDoorman } from '../../src/server.ts';
import { Browser } from '../helpers/browser.ts';
import { freePort } from '../../src/free-port.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { APP, startScenario, startTestDoorman, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';

/**
 * One deployment, two processes (here: two in-process servers) on one database, behind
 * one issuer URL. Nothing of a login may live in one process's memory.
 */
describe('when two Doorman instances share one database', () => {
  let s: Scenario;
  let second: RunningDoorman & { config: Config };

  before(async () => {
    s = await startScenario();
    const cfg = s.doorman.config;
    second = await startTestDoorman(s.db.url, {
      issuer: cfg.issuer,
      clients: cfg.clients.map(({ clientSecret: _, ...c }) => c),
      upstreams: cfg.upstreams.map(({ clientSecret: _, ...u }) => u),
    }, { WIKI_SECRET: APP.clientSecret, GOOGLE_SECRET: cfg.upstreams[0]!.clientSecret }, await freePort());
  });
  after(async () => {
    await second.close();
    await s.close();
  });

  it('then both publish the same signing key', async () => {
    const a = await (await fetch(`http://127.0.0.1:${s.doorman.port}/jwks`)).json();
    const b = await (await fetch(`http://127.0.0.1:${second.port}/jwks`)).json();
    assert.deepEqual(a, b);
  });

  it('then a login started on one finishes on the other, and its tokens work on both', async () => {
    const browser = new Browser();
    const rp = await discoverDoorman(s.doorman.url);
    const req = await buildAuthRequest(rp);
    const login = await browser.visit(req.url);
    assert.match(login.body, /Continue with Google/);

    // From here on, every request to the issuer's origin lands on the second instance.
    const issuerOrigin = new URL(s.doorman.url).origin;
    browser.rewrite = (url) => url.origin === issuerOrigin ? new URL(url.href.replace(issuerOrigin, `http://127.0.0.1:${second.port}`)) : url;
    const picker = await browser.submit(login, '/upstream/google');
    const consent = await browser.submit(picker, '/decide', { sub: ALICE.sub });
    const back = await browser.submit(consent, '/consent', {}, APP.redirectUri);

    const tokens = await redeemCode(rp, back.url, req); // token endpoint of the first instance
    const userinfo = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
    assert.equal(userinfo.email, 'alice@example.com');
    const direct = await fetch(`http://127.0.0.1:${second.port}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(direct.status, 200);
    assert.equal(((await direct.json()) as { sub: string }).sub, tokens.claims()!.sub);
  });
});
