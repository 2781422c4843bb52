import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

type Line = Record<string, unknown> & { msg: string; level: string };

/** What an operator reads: Doorman's log lines, captured through the logger's own destination. */
describe('when an operator reads the log of a full login', () => {
  let db: TestDatabase;
  let s: Scenario;
  const raw: string[] = [];
  const lines = () => raw.map((l) => JSON.parse(l) as Line);
  const PASSWORD = 'pw-never-logged-7f3a';

  before(async () => {
    db = await createTestDatabase();
    // The shared test server trusts local connections, so the password is carried but never checked.
    const url = new URL(db.url);
    url.username = 'postgres';
    url.password = PASSWORD;
    s = await startScenario({ db, databaseUrl: url.toString(), client: { firstParty: true }, log: createLogger('info', (l) => raw.push(l)) });
  });
  after(async () => {
    await s?.close();
    await db?.drop();
  });

  it('then the start summary names issuer, database, clients and each upstream\'s callback URL, and no password', () => {
    const summary = lines().find((l) => l.msg === 'doorman started');
    assert.ok(summary, raw.join('\n'));
    assert.equal(summary.issuer, s.doorman.url);
    assert.equal(summary.database, `127.0.0.1:5432/test (schema ${db.schema})`);
    assert.deepEqual(summary.clients, [APP.clientId]);
    assert.deepEqual(summary.upstreams, [{ id: 'google', type: 'google', callbackUrl: `${s.doorman.url}/upstream/google/callback` }]);
    assert.ok(!raw.join('\n').includes(PASSWORD), 'the database password is in the log');
  });

  it('then each request has one access line with its request id, every line of the request carries it, and no code or state is written', async () => {
    raw.length = 0;
    const rp = await discoverDoorman(s.doorman.url);
    const browser = new Browser();
    const req = await buildAuthRequest(rp);
    const login = await browser.visit(req.url);
    const atGoogle = await browser.submit(login, '/upstream/google');
    const upstreamState = new URL(atGoogle.url).searchParams.get('state')!;
    const back = await browser.submit(atGoogle, '/decide', { sub: ALICE.sub }, APP.redirectUri);
    const code = back.url.searchParams.get('code')!;
    const tokens = await redeemCode(rp, back.url, req);

    const text = raw.join('\n');
    for (const leak of ['code=', 'state=', code, req.state, upstreamState, tokens.access_token, tokens.id_token!]) {
      assert.ok(!text.includes(leak), `${leak.slice(0, 20)} is in the log:\n${text}`);
    }
    const access = lines().filter((l) => l.msg === 'request');
    const callback = access.find((l) => l.route === '/upstream/:connectorId/callback');
    assert.ok(callback, text);
    assert.equal(callback.path, '/upstream/google/callback');
    assert.equal(callback.status, 303);
    assert.equal(callback.method, 'GET');
    assert.equal(typeof callback.durationMs, 'number');
    assert.ok(access.find((l) => l.route === '/token' && l.status === 200), 'the token request is logged');
    const ids = access.map((l) => l.requestId);
    assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0), text);
    assert.equal(new Set(ids).size, ids.length, 'one access line per request, each its own id');

    const signedIn = lines().find((l) => l.msg === 'signed in');
    assert.ok(signedIn, text);
    assert.equal(signedIn.upstream, 'google');
    assert.equal(signedIn.client, APP.clientId);
    assert.equal(signedIn.requestId, callback.requestId, 'the sign-in line carries the callback request\'s id');
  });

  it('then a safe X-Request-Id from a proxy is kept and echoed, and an unsafe one replaced', async () => {
    raw.length = 0;
    const kept = await fetch(`${s.doorman.url}/.well-known/openid-configuration`, { headers: { 'x-request-id': 'lb-4f2a.9' } });
    assert.equal(kept.headers.get('x-request-id'), 'lb-4f2a.9');
    const unsafe = '<script>' + 'x'.repeat(100);
    const replaced = await fetch(`${s.doorman.url}/.well-known/openid-configuration`, { headers: { 'x-request-id': unsafe } });
    const fresh = replaced.headers.get('x-request-id');
    assert.match(fresh ?? '', /^[0-9a-f-]{36}$/);
    const access = lines().filter((l) => l.msg === 'request');
    assert.deepEqual(access.map((l) => l.requestId), ['lb-4f2a.9', fresh]);
    assert.ok(!raw.join('\n').includes('<script>'));
  });

  it('then probes and scrapes are not access-logged', async () => {
    raw.length = 0;
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal((await fetch(`${s.doorman.url}${path}`)).status, 200, path);
    assert.deepEqual(lines().filter((l) => l.msg === 'request'), []);
  });
});
