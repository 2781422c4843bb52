import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { GoogleLookalike, LookalikeUser } from '../../src/demo/google-lookalike.ts';
import { freePort } from '../../src/free-port.ts';
import { GOOGLE_CLIENT, startFakeGoogle } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { signInThrough } from '../helpers/sign-in.ts';
import { APP } from '../helpers/start-doorman.ts';
import { startDoormanProcess, type DoormanProcess } from './doorman-process.ts';
import { loopbackConfig, readmeNginxSample, startNginx, type Nginx } from './nginx.ts';

/**
 * README "Scaling": three Doorman processes (each its own OS process, as `npm start` runs
 * them) on one PostgreSQL schema behind nginx with the README's sample configuration,
 * round robin, no sticky sessions. One process is killed with SIGKILL in the middle of
 * concurrent logins. Bounded: 90 logins, 8 at a time.
 */
const LOGINS = 90;
const CONCURRENCY = 8;
/** The kill comes when this many logins have finished, so all three processes served some first. */
const KILL_AFTER = 30;
/** Each person signs in 4 times in a row of logins, so first logins of one person race across processes. */
const LOGINS_PER_PERSON_IN_A_ROW = 4;
const PEOPLE: LookalikeUser[] = Array.from({ length: 20 }, (_, i) => ({
  sub: `3000000000000${String(i).padStart(5, '0')}`, email: `person${i}@scale.example`, email_verified: true, name: `Person ${i}`,
}));

interface LoginResult { person: string; startedAt: number; finishedAt: number; accountId?: string; error?: string }
interface LogLine { at: number; status: number; method: string; uri: string; upstreams: string }

describe('when three Doorman processes on one database stand behind nginx', () => {
  let db: TestDatabase;
  let google: GoogleLookalike;
  let dir: string;
  const doormans: DoormanProcess[] = [];
  let nginx: Nginx | undefined;

  before(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'doorman-scaleout-'));
    const nginxPort = await freePort();
    const issuer = `http://127.0.0.1:${nginxPort}`;
    google = await startFakeGoogle([`${issuer}/upstream/google/callback`], PEOPLE);
    const configPath = join(dir, 'doorman.yaml');
    writeFileSync(configPath, stringify({
      issuer,
      trustProxy: true,
      proxyHops: 1,
      logLevel: 'warn',
      clients: [{ clientId: APP.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri], firstParty: true }],
      upstreams: [{ id: 'google', type: 'google', clientId: GOOGLE_CLIENT.clientId, clientSecretEnv: 'GOOGLE_SECRET', issuer: google.issuer, timeoutMs: 10_000 }],
      // Every login comes from 127.0.0.1; the counters are shared by the three processes.
      rateLimits: { loginStartsPerIp: { points: 100_000 }, upstreamCallbacksPerIp: { points: 100_000 } },
    }));
    const env = { DATABASE_URL: db.url, DOORMAN_CONFIG: configPath, WIKI_SECRET: APP.clientSecret, GOOGLE_SECRET: GOOGLE_CLIENT.clientSecret };
    const ports = [await freePort(), await freePort(), await freePort()];
    const started = await Promise.allSettled(ports.map((port) => startDoormanProcess(env, port)));
    for (const s of started) if (s.status === 'fulfilled') doormans.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    nginx = await startNginx(dir, nginxPort, loopbackConfig(readmeNginxSample(), nginxPort, ports));
  });

  after(async () => {
    await Promise.all(doormans.map((d) => d.kill()));
    await nginx?.close();
    await google?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('then all three publish the same signing keys', async () => {
    const sets = await Promise.all(doormans.map(async (d) => (await fetch(`http://127.0.0.1:${d.port}/jwks`)).json() as Promise<{ keys: { kid: string }[] }>));
    assert.ok(sets[0]!.keys.length >= 1);
    for (const set of sets.slice(1)) assert.deepEqual(set, sets[0]);
    assert.deepEqual(await (await fetch(`${nginx!.url}/jwks`)).json(), sets[0]);
  });

  it('then killing one mid-load fails only logins in flight on it, every later login completes, and no account is doubled', { timeout: 120_000 }, async (t) => {
    const rp = await discoverDoorman(nginx!.url);
    const victim = doormans[1]!;
    const survivors = doormans.filter((d) => d !== victim);
    const results: LoginResult[] = [];
    let killStart = Infinity;
    let killDone = Infinity;
    let killing: Promise<void> | undefined;
    let next = 0;
    const t0 = Date.now();

    const worker = async () => {
      while (next < LOGINS) {
        const person = PEOPLE[Math.floor(next++ / LOGINS_PER_PERSON_IN_A_ROW) % PEOPLE.length]!;
        const result: LoginResult = { person: person.sub, startedAt: Date.now(), finishedAt: 0 };
        try {
          const { tokens } = await signInThrough(rp, new Browser(), 'google', person.sub);
          result.accountId = tokens.claims()!.sub;
        } catch (err) {
          result.error = (err instanceof Error ? err.message : String(err)).slice(0, 300);
        }
        result.finishedAt = Date.now();
        results.push(result);
        if (results.length === KILL_AFTER) {
          killStart = Date.now();
          killing = victim.kill().then(() => { killDone = Date.now(); });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await killing;
    const elapsed = Date.now() - t0;

    const failures = results.filter((r) => r.error);
    const report = `failures: ${JSON.stringify(failures.map((f) => ({ ...f, startedAt: f.startedAt - killStart, finishedAt: f.finishedAt - killStart })), null, 1)}\n`
      + `nginx errors: ${nginx!.errorLog().slice(-2000)}\nsurvivor output: ${survivors.map((d) => d.output().slice(-1500)).join('\n---\n')}`;
    assert.equal(results.length, LOGINS);
    assert.ok(Number.isFinite(killDone), 'the victim was killed during the load');
    assert.ok(elapsed < 60_000, `${LOGINS} logins took ${elapsed} ms`);

    // Only logins that overlapped the kill may fail, and at most one per concurrent login.
    assert.ok(failures.length <= CONCURRENCY, report);
    for (const f of failures) assert.ok(f.startedAt < killDone && f.finishedAt >= killStart, `a login failed away from the kill\n${report}`);
    const afterKill = results.filter((r) => r.startedAt > killDone);
    assert.ok(afterKill.length >= LOGINS - KILL_AFTER - 2 * CONCURRENCY, `only ${afterKill.length} logins started after the kill`);
    assert.deepEqual(afterKill.filter((r) => r.error), [], report);

    // nginx: round robin reached every process before the kill; every 5xx it answered came from the victim.
    const lines = nginx!.accessLog().map(parseLogLine).filter((l) => l.at >= t0);
    const victimAddr = `127.0.0.1:${victim.port}`;
    const beforeKill = lines.filter((l) => l.at < killStart);
    for (const d of doormans) {
      const served = beforeKill.filter((l) => l.upstreams === `127.0.0.1:${d.port}`).length;
      assert.ok(served >= beforeKill.length / 6, `process on port ${d.port} served ${served} of ${beforeKill.length} requests before the kill`);
    }
    const serverErrors = lines.filter((l) => l.status >= 500);
    assert.ok(serverErrors.length <= CONCURRENCY, JSON.stringify(serverErrors));
    for (const l of serverErrors) assert.ok(l.upstreams.includes(victimAddr), `a 5xx not caused by the killed process: ${JSON.stringify(l)}`);

    t.diagnostic(`${LOGINS} logins in ${elapsed} ms; ${afterKill.length} started after the kill; ${failures.length} failed; `
      + `nginx answered ${serverErrors.length} of ${lines.length} requests with 5xx, ${lines.filter((l) => l.upstreams.includes(',')).length} retried on another process`);
    for (const f of failures) t.diagnostic(`failed login (started ${f.startedAt - killStart} ms from the kill): ${f.error!.slice(0, 160)}`);

    // One person, one account, whichever process handled each of their logins.
    const accountOf = new Map<string, Set<string>>();
    for (const r of results) if (r.accountId) accountOf.set(r.person, (accountOf.get(r.person) ?? new Set()).add(r.accountId));
    for (const [person, accounts] of accountOf) assert.equal(accounts.size, 1, `${person} got accounts ${[...accounts].join(', ')}`);
    assert.equal(new Set([...accountOf.values()].map((a) => [...a][0])).size, accountOf.size, 'two people share an account');
    const identities = await db.query<{ subject: string; n: number }>(`SELECT subject, count(*)::int AS n FROM "Identity" WHERE provider = 'google' GROUP BY subject`);
    assert.deepEqual(identities.filter((i) => i.n !== 1), [], 'an identity stored twice');
    assert.deepEqual(new Set(identities.map((i) => i.subject)), new Set(accountOf.keys()));
    const [accounts] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM "Account"');
    assert.equal(accounts!.n, accountOf.size, 'accounts without their identity, or doubled');

    // The survivors still agree on the keys.
    const [a, b] = await Promise.all(survivors.map(async (d) => (await fetch(`http://127.0.0.1:${d.port}/jwks`)).json()));
    assert.deepEqual(a, b);
  });
});

function parseLogLine(line: string): LogLine {
  const [msec, status, method, uri, upstreams] = line.split('|');
  return { at: Number(msec) * 1000, status: Number(status), method: method!, uri: uri!, upstreams: upstreams! };
}
