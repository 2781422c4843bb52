import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Prisma } from '../../src/generated/prisma/client.ts';
import { setAdmin } from '../../src/accounts/admin.ts';
import { insertUpstreamCalls, oldUpstreamCallsDeletion, upstreamActivityQueries, upstreamCallRow } from '../../src/upstream-activity/repository.ts';
import { ALICE, OUTSIDER } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { startScenario } from '../helpers/start-doorman.ts';

/**
 * Upstreams at a glance (console page and GET /admin/api/upstreams): what two Doorman
 * processes sharing one database saw of each upstream, from the UpstreamCall rows the
 * login path writes (src/upstream-activity).
 */

interface UpstreamReport {
  id: string; type: string; callbackUrl: string;
  hour: { signIns: number; failures: Record<string, number>; latencyMs: { p50: number | null; p95: number | null } };
  day: { signIns: number; failures: Record<string, number>; latencyMs: { p50: number | null; p95: number | null } };
  lastError: { kind: string; message: string; at: string } | null;
}

/** Polls `probe` until it returns true; the login path writes its row without waiting for it. */
async function eventually(what: string, probe: () => Promise<boolean>, limitMs = 10_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`not within ${limitMs} ms: ${what}`);
    await new Promise((ok) => setTimeout(ok, 50));
  }
}

const ADMIN_SCOPE = { scope: 'openid email admin', prompt: 'consent' };

/**
 * A fresh Doorman (with the GitHub fake) for one test, closed when that test ends, so each
 * test counts only the upstream calls it made; Alice is an admin with an admin-scoped token.
 * With `second`, a second process `b` on the same database, with its own fake Google.
 */
async function arrange(t: TestContext, { second = false } = {}) {
  const a = await startScenario({ with: ['github'], client: { firstParty: true, adminApi: true } });
  const b = second ? await startScenario({ db: a.db, with: ['github'], client: { firstParty: true } }) : undefined;
  t.after(async () => {
    await b?.close();
    await a.close();
  });
  const rp = await discoverDoorman(a.doorman.url);
  const signedIn = await signInThrough(rp, new Browser(), 'google', ALICE.sub, {}, ADMIN_SCOPE);
  await setAdmin(a.doorman.db, signedIn.tokens.claims()!.sub, true, 'test');
  const adminToken = signedIn.tokens.access_token;
  const calls = async (upstream: string) => Number((await a.db.query<{ n: string }>(`SELECT count(*) AS n FROM "UpstreamCall" WHERE upstream = $1`, [upstream]))[0]!.n);
  const report = async (): Promise<UpstreamReport[]> => {
    const res = await fetch(new URL('/admin/api/upstreams', a.doorman.url), { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { upstreams: UpstreamReport[] }).upstreams;
  };
  return { a, b, calls, report };
}

describe('when an admin looks at the upstreams', () => {
  it('then sign-ins and failures made on either process count, by kind, with the last error and latency', async (t) => {
    const { a, b, calls, report } = await arrange(t, { second: true });
    const adminBrowser = new Browser();
    await chooseUpstream(adminBrowser, await adminBrowser.visit(new URL('/admin', a.doorman.url)), 'google', ALICE.sub, {}, 'never');
    await eventually('the admin\'s own sign-ins are written', async () => (await calls('google')) >= 2);
    const before = await calls('google');
    const rpB = await discoverDoorman(b!.doorman.url);
    await signInThrough(rpB, new Browser(), 'google', OUTSIDER.sub);
    const cancelled = new Browser();
    await chooseUpstream(cancelled, await cancelled.visit((await buildAuthRequest(rpB)).url), 'google', 'cancel', {}, 'never');
    a.google.faults['/token'] = { kind: 'answer', status: 503, contentType: 'text/html', body: '<html><script>alert(1)</script>down</html>' };
    try {
      const failing = new Browser();
      const page = await chooseUpstream(failing, await failing.visit((await buildAuthRequest(await discoverDoorman(a.doorman.url))).url), 'google', ALICE.sub, {}, 'never');
      assert.equal(page.status, 502);
    } finally {
      delete a.google.faults['/token'];
    }
    await eventually('all three calls are written', async () => (await calls('google')) === before + 3);

    const google = (await report()).find((u) => u.id === 'google')!;
    assert.equal(google.callbackUrl, `${a.doorman.url}/upstream/google/callback`);
    assert.equal(google.type, a.doorman.config.upstreams[0]!.type);
    assert.equal(google.hour.signIns, before + 1);
    assert.deepEqual(google.hour.failures, { denied: 1, unavailable: 1 });
    assert.deepEqual(google.day.failures, google.hour.failures);
    assert.equal(google.lastError?.kind, 'unavailable');
    assert.match(google.lastError!.message, /503/);
    assert.ok(Date.now() - Date.parse(google.lastError!.at) < 60_000);
    assert.equal(typeof google.hour.latencyMs.p50, 'number');
    assert.ok(google.hour.latencyMs.p95! >= google.hour.latencyMs.p50!);

    // The console page shows the same numbers.
    const html = (await adminBrowser.visit(new URL('/admin/upstreams', a.doorman.url))).body;
    assert.match(html, new RegExp(`<code>${a.doorman.url}/upstream/google/callback</code>`));
    assert.match(html, /denied 1, unavailable 1|unavailable 1, denied 1/);
    assert.doesNotMatch(html, /<script>alert/);
  });

  it('then a failure message with NUL characters or of any length is still noted, cut to 300 characters', async (t) => {
    const { a } = await arrange(t);
    await insertUpstreamCalls(a.doorman.db, [upstreamCallRow({ upstream: 'nul-test', stage: 'callback', failure: { kind: 'invalid_response', message: `bad\0body ${'x'.repeat(5000)}` }, latencyMs: 12.6 })]);
    const [row] = await a.db.query<{ error: string; latencyMs: number }>(`SELECT error, "latencyMs" FROM "UpstreamCall" WHERE upstream = 'nul-test'`);
    assert.equal(row!.error.length, 300);
    assert.ok(row!.error.startsWith('bad\uFFFDbody '));
    assert.equal(row!.latencyMs, 13);
  });

  it('then words a stranger puts in the upstream\'s redirect (error_description) are not shown to admins as the upstream\'s', async (t) => {
    const { a, report } = await arrange(t);
    // Anyone can start a login and send their browser to the callback with an error of their own.
    const browser = new Browser();
    const login = await browser.visit((await buildAuthRequest(await discoverDoorman(a.doorman.url))).url);
    const atGoogle = await browser.submit(login, '/upstream/google');
    const state = atGoogle.url.searchParams.get('state')!;
    const lure = 'Google: your Doorman client secret leaked, rotate it at https://evil.example/fix';
    const callback = new URL('/upstream/google/callback', a.doorman.url);
    callback.search = new URLSearchParams({ state, error: 'temporarily_unavailable', error_description: lure, iss: a.google.issuer }).toString();
    const page = await browser.visit(callback);
    assert.ok(page.status >= 400, `${page.status}`);
    let google: UpstreamReport | undefined;
    await eventually('the failure is noted', async () => {
      google = (await report()).find((u) => u.id === 'google');
      return google?.lastError?.kind === 'unavailable' && Date.now() - Date.parse(google.lastError.at) < 10_000;
    });
    assert.doesNotMatch(google!.lastError!.message, /evil\.example|leaked/);
    assert.match(google!.lastError!.message, /temporarily_unavailable/);
  });

  it('then only the last hour and day count, and an upstream without calls shows none', async (t) => {
    const { a, report } = await arrange(t);
    await a.db.query(`INSERT INTO "UpstreamCall" (upstream, stage, ok, kind, error, "latencyMs", "createdAt") VALUES
      ('github', 'callback', true, NULL, NULL, 100, now() - interval '10 minutes'),
      ('github', 'callback', true, NULL, NULL, 300, now() - interval '3 hours'),
      ('github', 'callback', false, 'timeout', 'token: no answer in time', 2000, now() - interval '5 hours'),
      ('github', 'start', false, 'unavailable', 'discovery: refused', 5, now() - interval '2 days'),
      ('github', 'callback', true, NULL, NULL, 900, now() - interval '2 days')`);
    const github = (await report()).find((u) => u.id === 'github')!;
    assert.deepEqual(github.hour, { signIns: 1, failures: {}, latencyMs: { p50: 100, p95: 100 } });
    assert.deepEqual(github.day, { signIns: 2, failures: { timeout: 1 }, latencyMs: { p50: 300, p95: 2000 } });
    // The last error is the newest failure, even one older than a day.
    assert.equal(github.lastError?.kind, 'timeout');
    await a.db.query(`UPDATE "UpstreamCall" SET "createdAt" = now() - interval '8 days' WHERE upstream = 'github'`);
    await a.db.query(`DELETE FROM "UpstreamCall" WHERE "createdAt" < now() - interval '7 days'`);
    const quiet = (await report()).find((u) => u.id === 'github')!;
    assert.deepEqual([quiet.hour.signIns, quiet.day.signIns, quiet.hour.latencyMs, quiet.lastError], [0, 0, { p50: null, p95: null }, null]);
  });

  it('then its three statements and the sweep use the indexes, not a table scan, over many calls', async (t) => {
    const { a, report } = await arrange(t);
    // 300 000 calls over the 7-day retention and the 10 minutes since the last sweep, of an
    // upstream that is not configured and a few of one that is: the table as the sweep keeps it.
    await a.db.query(`INSERT INTO "UpstreamCall" (upstream, stage, ok, kind, error, "latencyMs", "createdAt")
      SELECT CASE WHEN i % 100 = 0 THEN 'github' ELSE 'bulk' END, 'callback', i % 7 <> 0, CASE WHEN i % 7 = 0 THEN 'timeout' END, NULL, i % 1000,
        now() - make_interval(secs => i * 2.018)
      FROM generate_series(1, 300000) AS i`);
    await a.db.query('VACUUM ANALYZE "UpstreamCall"');
    const queries = { ...upstreamActivityQueries(['google', 'github']), sweep: oldUpstreamCallsDeletion() };
    for (const [name, query] of Object.entries(queries)) {
      const plan = (await a.doorman.db.$queryRaw<{ 'QUERY PLAN': string }[]>(Prisma.sql`EXPLAIN ${query}`)).map((r) => r['QUERY PLAN']).join('\n');
      assert.doesNotMatch(plan, /Seq Scan on "UpstreamCall"/, `${name}:\n${plan}`);
      assert.match(plan, /Index (Only )?Scan( Backward)? using "UpstreamCall_\w+" on "UpstreamCall"/, `${name}:\n${plan}`);
    }
    const started = performance.now();
    await report();
    assert.ok(performance.now() - started < 2000, 'the report over 300 000 calls takes under 2 s');
  });

  it('then a process that stops right after a login writes that login\'s note before its pool closes', async (t) => {
    const db = await createTestDatabase();
    t.after(() => db.drop());
    const s = await startScenario({ db, client: { firstParty: true } });
    await signInThrough(await discoverDoorman(s.doorman.url), new Browser(), 'google', ALICE.sub);
    // Well within the flush interval: the note is still queued when the process is told to stop.
    await s.close();
    const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM "UpstreamCall" WHERE upstream = 'google' AND ok`);
    assert.equal(row!.n, '1');
  });

  it('then a person who is not an admin gets the 403 page, and the API refuses a token without the admin scope', async (t) => {
    const { a } = await arrange(t);
    const browser = new Browser();
    const landed = await chooseUpstream(browser, await browser.visit(new URL('/admin/upstreams', a.doorman.url)), 'google', OUTSIDER.sub, {}, 'never');
    assert.equal(landed.status, 403);
    const upstreams = await browser.visit(new URL('/admin/upstreams', a.doorman.url));
    assert.equal(upstreams.status, 403);
    assert.doesNotMatch(upstreams.body, /upstream\/google\/callback/);
    const plain = await signInThrough(await discoverDoorman(a.doorman.url), new Browser(), 'google', OUTSIDER.sub);
    const res = await fetch(new URL('/admin/api/upstreams', a.doorman.url), { headers: { authorization: `Bearer ${plain.tokens.access_token}` } });
    assert.equal(res.status, 403);
  });
});
