import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/free-port.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { ALICE_GH } from '../fakes/fake-upstreams.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/** The value of the sample `name{labels}` in a Prometheus text exposition (labels in registration order). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  const line = text.split('\n').find((l) => l.startsWith(`${wanted} `));
  return line === undefined ? undefined : Number(line.slice(wanted.length + 1));
}

describe('when Prometheus scrapes /metrics after logins', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ client: { firstParty: true } }); });
  after(() => s?.close());

  it('then it counts the login by upstream, client and outcome, the grants and the requests by route pattern, and no label holds an id or email', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const browser = new Browser();
    const req = await buildAuthRequest(rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const login = await browser.visit(req.url);
    const uid = login.url.pathname.split('/').pop()!;
    const picker = await browser.submit(login, '/upstream/google');
    const back = await browser.submit(picker, '/decide', { sub: ALICE.sub }, APP.redirectUri);
    const tokens = await redeemCode(rp, back.url, req);
    const cancelled = await browser.submit(await browser.submit(await browser.visit((await buildAuthRequest(rp, { prompt: 'login' })).url), '/upstream/google'), '/decide', { deny: '1' });
    assert.equal(cancelled.status, 403);

    const res = await fetch(`${s.doorman.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();

    assert.equal(sample(text, 'doorman_logins_total', { upstream: 'google', client: 'wiki', purpose: 'login', outcome: 'success', reason: '' }), 1, text);
    assert.equal(sample(text, 'doorman_logins_total', { upstream: 'google', client: 'wiki', purpose: 'login', outcome: 'cancelled', reason: '' }), 1, text);
    assert.equal(sample(text, 'doorman_link_decisions_total', { decision: 'create', reason: '' }), 1, text);
    assert.equal(sample(text, 'doorman_token_grants_total', { grant_type: 'authorization_code', outcome: 'success' }), 1, text);
    assert.equal(sample(text, 'doorman_tokens_issued_total', { kind: 'refresh_token' }), 1, text);
    assert.equal(sample(text, 'doorman_http_request_duration_seconds_count', { method: 'GET', route: '/interaction/:uid', status: '200' }), 2, text);
    assert.equal(sample(text, 'doorman_http_request_duration_seconds_count', { method: 'POST', route: '/token', status: '200' }), 1, text);
    assert.equal(sample(text, 'doorman_upstream_request_duration_seconds_count', { upstream: 'google', step: '/token', outcome: 'ok' }), 1, text);
    assert.ok(sample(text, 'doorman_db_pool_connections', { state: 'idle' })! >= 0, text);
    assert.match(text, /^process_cpu_user_seconds_total /m);

    const accountId = tokens.claims()!.sub;
    for (const secret of [ALICE.email!, uid, accountId, ALICE.sub, tokens.access_token]) {
      assert.ok(!text.includes(secret), `${secret} appears in the exposition`);
    }
  });

  it('then unknown paths share one route label and a refused token request counts its OAuth error', async () => {
    for (const path of ['/no-such-page-1', '/no-such-page-2']) assert.equal((await fetch(`${s.doorman.url}${path}`)).status, 404);
    const refused = await fetch(`${s.doorman.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'not-a-token', client_id: APP.clientId, client_secret: APP.clientSecret }),
    });
    assert.equal(refused.status, 400);
    const text = await (await fetch(`${s.doorman.url}/metrics`)).text();
    assert.ok(sample(text, 'doorman_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status: '404' })! >= 2, text);
    assert.doesNotMatch(text, /no-such-page/);
    assert.equal(sample(text, 'doorman_token_grants_total', { grant_type: 'refresh_token', outcome: 'invalid_grant' }), 1, text);
  });
});

describe('when a sign-in is offered a link and the person proves it', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ with: ['github'], client: { firstParty: true } }); });
  after(() => s?.close());

  it('then the offer, the proof and both callbacks are counted, each with its own upstream and purpose', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    await signInThrough(rp, new Browser(), 'google', ALICE.sub);
    const browser = new Browser();
    const offer = await chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), 'github', ALICE_GH.login, {}, 'never');
    const picker = await browser.submit(offer, '/link/google');
    await browser.submit(picker, '/decide', { sub: ALICE.sub }, APP.redirectUri);

    const text = await (await fetch(`${s.doorman.url}/metrics`)).text();
    assert.equal(sample(text, 'doorman_logins_total', { upstream: 'github', client: 'wiki', purpose: 'login', outcome: 'link_offered', reason: '' }), 1, text);
    assert.equal(sample(text, 'doorman_logins_total', { upstream: 'google', client: 'wiki', purpose: 'link-proof', outcome: 'success', reason: '' }), 1, text);
    assert.equal(sample(text, 'doorman_link_decisions_total', { decision: 'offer_link', reason: '' }), 1, text);
    assert.equal(sample(text, 'doorman_link_decisions_total', { decision: 'proof_linked', reason: '' }), 1, text);
  });
});

describe('when metrics.port is set', () => {
  let s: Scenario;
  let metricsPort: number;
  before(async () => {
    metricsPort = await freePort();
    s = await startScenario({ config: { metrics: { port: metricsPort } } });
  });
  after(() => s?.close());

  it('then /metrics is served on that port only', async () => {
    assert.equal((await fetch(`${s.doorman.url}/metrics`)).status, 404);
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /doorman_http_request_duration_seconds/);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
  });
});

describe('when metrics are disabled', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ config: { metrics: { enabled: false } } }); });
  after(() => s?.close());

  it('then there is no /metrics', async () => {
    assert.equal((await fetch(`${s.doorman.url}/metrics`)).status, 404);
  });
});
