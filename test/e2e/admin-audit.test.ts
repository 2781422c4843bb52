import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setAdmin } from '../../src/accounts/admin.ts';
import { recordUpstreamRefusal } from '../../src/accounts/service.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/** GET /admin/api/audit (the console's audit query, for scripts) and GET /admin/api/openapi.yaml. */
describe('when an admin reads the audit log through the API', () => {
  let s: Scenario;
  let token: string;
  let alice: string;
  const audit = async (query: Record<string, string>) => {
    const res = await fetch(new URL(`/admin/api/audit?${new URLSearchParams(query)}`, s.doorman.url), { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() as { events: { id: string; type: string; accountId: string | null; detail: { reason?: string } }[]; nextCursor: string | null; error_description?: string } };
  };

  before(async () => {
    s = await startScenario({ client: { firstParty: true, adminApi: true } });
    const rp = await discoverDoorman(s.doorman.url);
    alice = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.claims()!.sub;
    await setAdmin(dbOf(s), alice, true, 'test');
    token = (await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, { scope: 'openid admin' })).tokens.access_token;
  });
  after(() => s.close());

  it('then a refusal that belongs to no account is found by type and reason', async () => {
    const reason = `r-${randomUUID().slice(0, 8)}`;
    await recordUpstreamRefusal(dbOf(s), 'google', reason, 'wiki');
    const res = await audit({ type: 'login.refused', reason });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.events.map((e) => [e.type, e.accountId, e.detail.reason]), [['login.refused', null, reason]]);
  });

  it('then an account\'s events page by cursor without repeats', async () => {
    const first = await audit({ accountId: alice, limit: '1' });
    assert.equal(first.body.events.length, 1);
    assert.ok(first.body.nextCursor);
    const second = await audit({ accountId: alice, limit: '1', cursor: first.body.nextCursor! });
    assert.equal(second.body.events.length, 1);
    assert.notEqual(second.body.events[0]!.id, first.body.events[0]!.id);
    assert.ok([...first.body.events, ...second.body.events].every((e) => e.accountId === alice));
  });

  it('then a time range outside the events finds none, and a bare date as `to` includes that day', async () => {
    assert.deepEqual((await audit({ accountId: alice, to: '2020-01-01' })).body.events, []);
    const today = new Date().toISOString().slice(0, 10);
    assert.ok((await audit({ accountId: alice, from: today, to: today })).body.events.length > 0);
  });

  it('then the API serves its own OpenAPI description', async () => {
    const res = await fetch(new URL('/admin/api/openapi.yaml', s.doorman.url), { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /yaml/);
    assert.match(await res.text(), /^openapi: 3\.1\.0[\s\S]*\/audit:/);
    assert.equal((await fetch(new URL('/admin/api/openapi.yaml', s.doorman.url))).status, 401);
  });

  it('then a query it cannot read is refused with 400 naming each field', async () => {
    const res = await audit({ from: 'last tuesday', limit: '5000', type: 'x'.repeat(100) });
    assert.equal(res.status, 400);
    assert.match(res.body.error_description!, /from: .*type: .*limit: /s);
  });
});

function dbOf(s: Scenario) {
  return s.doorman.db;
}
