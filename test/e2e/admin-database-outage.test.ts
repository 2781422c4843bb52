import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setAdmin } from '../../src/accounts/admin.ts';
import { ALICE, OUTSIDER } from '../fakes/fake-google.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { startOwnPostgres, type OwnPostgres } from '../helpers/own-postgres.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * PostgreSQL goes away while an admin uses the admin API and the console. Doorman runs on
 * a PostgreSQL of its own (as database-outage.test.ts) so the test can stop and start it.
 */
describe('when the database is unreachable while an admin works', () => {
  let pg: OwnPostgres;
  let s: Scenario;

  before(async () => {
    pg = await startOwnPostgres('doorman-admin-outage-');
    s = await startScenario({ databaseUrl: pg.url, client: { firstParty: true, adminApi: true } });
  });
  after(async () => {
    await s?.close();
    await pg?.close();
  });

  async function api(token: string, method: string, path: string, body?: unknown) {
    const res = await fetch(new URL(`/admin/api${path}`, s.doorman.url), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as Record<string, unknown> };
  }

  function assertConsoleOutage(page: Page, path: string): void {
    assert.equal(page.status, 503, `${path}: ${page.body.slice(0, 400)}`);
    assert.ok(Number(page.headers.get('retry-after')) > 0, `${path}: Retry-After`);
    assert.match(page.body, /Temporarily unavailable/, path);
    assert.match(page.body, /Error code: temporarily_unavailable/, path);
    assert.doesNotMatch(page.body, /expired|refused|Something went wrong/i, path);
  }

  it('then the API answers 503 temporarily_unavailable with Retry-After and the console its 503 page, nothing is written, and the same requests succeed once it is back', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const signedIn = await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, { scope: 'openid email admin offline_access', prompt: 'consent' });
    const alice = signedIn.tokens.claims()!.sub;
    const token = signedIn.tokens.access_token;
    const eve = (await signInThrough(rp, new Browser(), 'google', OUTSIDER.sub)).tokens.claims()!.sub;
    await setAdmin(s.doorman.db, alice, true, 'test');
    const console = new Browser();
    await chooseUpstream(console, await console.visit(new URL('/admin', s.doorman.url)), 'google', ALICE.sub, {}, 'never');
    assert.equal((await console.visit(new URL('/admin', s.doorman.url))).status, 200);
    assert.equal((await console.request(new URL('/admin/clients', s.doorman.url))).status, 200);
    const confirmDisable = await console.visit(new URL(`/admin/accounts/${eve}/confirm?action=disable`, s.doorman.url));
    assert.equal(confirmDisable.status, 200, confirmDisable.body.slice(0, 400));
    const newClient = { clientId: 'outage-app', name: 'Outage App', redirectUris: ['https://outage.example/callback'] };
    const requests: [string, string, unknown?][] = [
      ['GET', '/accounts'],
      ['GET', `/accounts/${eve}`],
      ['GET', '/audit'],
      ['POST', `/accounts/${eve}/disable`],
      ['PUT', `/accounts/${eve}/admin`, { admin: true }],
      ['POST', '/clients', newClient],
      ['GET', '/clients'],
      ['GET', '/upstreams'],
    ];
    // Asked only during the outage (once it is back they answer what they always answer).
    const outageOnly: [string, string][] = [['DELETE', '/clients/some-app'], ['GET', '/accounts?q=alice']];
    const auditBefore = await s.doorman.db.auditEvent.count();

    await pg.stop();
    for (const [method, path, body] of [...requests, ...outageOnly]) {
      const res = await api(token, method, path, body);
      assert.equal(res.status, 503, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.ok(Number(res.retryAfter) > 0, `${method} ${path}: Retry-After`);
      assert.equal(res.body.error, 'temporarily_unavailable', `${method} ${path}`);
      assert.doesNotMatch(JSON.stringify(res.body), /127\.0\.0\.1|ECONNREFUSED|prisma/i, 'no connection details in the answer');
    }
    for (const path of ['/admin', `/admin/accounts/${eve}`, '/admin/clients', '/admin/upstreams', '/admin/keys']) {
      assertConsoleOutage(await console.request(new URL(path, s.doorman.url)), path);
    }
    assertConsoleOutage(await console.submit(confirmDisable, '/disable'), 'disable');

    await pg.start();
    const eveAfter = await s.doorman.db.account.findUniqueOrThrow({ where: { id: eve } });
    assert.equal(eveAfter.disabledAt, null, 'the disables (API and console) met the outage and wrote nothing');
    assert.equal(eveAfter.admin, false);
    assert.equal(await s.doorman.db.oidcClient.count({ where: { clientId: newClient.clientId } }), 0);
    assert.equal(await s.doorman.db.auditEvent.count(), auditBefore, 'no audit event for a request that failed');

    const answers = [];
    for (const [method, path, body] of requests) answers.push([method, path, (await api(token, method, path, body)).status]);
    assert.deepEqual(answers, requests.map(([method, path]) => [method, path, method === 'POST' && path === '/clients' ? 201 : 200]));
    assert.ok((await s.doorman.db.account.findUniqueOrThrow({ where: { id: eve } })).disabledAt);
    const page = await console.visit(new URL(`/admin/accounts/${eve}`, s.doorman.url));
    assert.equal(page.status, 200);
    assert.match(page.body, /Disabled|disabled/);
  });
});
