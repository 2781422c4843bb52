import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.ts';
import { freePort } from '../src/free-port.ts';
import { createLogger } from '../src/log.ts';
import { Agent } from './agent.ts';
import { authorize, fullLogin, get, redeem, tokenRequest, userinfo } from './flows.ts';
import { median, runLoad, type LoadResult } from './load.ts';
import { BENCH_CLIENTS } from './clients.ts';

/**
 * `npm run bench`: Doorman beside bare oidc-provider on (a) Doorman's Prisma adapter and
 * (b) a minimal pg adapter, same machine, same database, same run. Starts and stops all it
 * measures; every load is bounded in time. Prints a table, writes bench/results/<time>.json.
 *   --seconds N (3)  --runs N (3)  --soak N (60)  --no-million  --quick (1 run of 2 s, no 1M, 10 s soak)
 *   --soak-only [--soak-kind doorman|bare-prisma|bare-pg]: only a soak (with --soak N), to watch memory over a longer run
 */
const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' }, runs: { type: 'string', default: '3' }, soak: { type: 'string', default: '60' },
    'no-million': { type: 'boolean', default: false }, quick: { type: 'boolean', default: false },
    'soak-only': { type: 'boolean', default: false }, 'soak-kind': { type: 'string', default: 'doorman' },
  },
});
const SOAK_ONLY = opts['soak-only'];
const SECONDS = opts.quick ? 2 : Number(opts.seconds);
const RUNS = opts.quick ? 1 : Number(opts.runs);
const SOAK = opts.quick ? 10 : Number(opts.soak);
const MILLION = !(opts.quick || opts['no-million']);
const CONCURRENCY = [1, 16];
const log = createLogger('error');

interface Stats { cpuMicros: number; rss: number; maxRssKb: number }
interface Server { name: string; base: string; child: ChildProcess; stats(): Promise<Stats>; stop(): Promise<void> }

async function spawnServer(name: string, kind: string, databaseUrl: string, extra: { port?: number; upstream?: string; env?: Record<string, string> } = {}): Promise<Server> {
  const port = extra.port ?? await freePort();
  const child = fork(new URL('./server.ts', import.meta.url).pathname, [kind, String(port), extra.upstream ?? ''], {
    execArgv: ['--import', 'tsx'], env: { ...process.env, DATABASE_URL: databaseUrl, ...extra.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [msg] = await Promise.race([once(child, 'message'), once(child, 'exit').then(() => { throw new Error(`${name} exited`); })]) as [{ ready?: boolean }];
  if (!msg.ready) throw new Error(`${name} did not start`);
  return {
    name, base: `http://127.0.0.1:${port}`, child,
    stats: async () => {
      child.send({ cmd: 'stats' });
      const [reply] = await once(child, 'message') as [{ stats: Stats }];
      return reply.stats;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

interface Measured { concurrency: number; throughput: number; p50: number; p99: number; errors: number; cpuMsPerOp: number; firstError?: string }

async function measure(server: Server, op: (worker: number) => Promise<void>): Promise<Measured[]> {
  const out: Measured[] = [];
  for (const concurrency of CONCURRENCY) {
    const before = await server.stats();
    const runs: LoadResult[] = [];
    for (let r = 0; r < RUNS; r++) runs.push(await runLoad(op, concurrency, SECONDS));
    const after = await server.stats();
    const mid = runs.find((x) => x.throughput === median(runs.map((y) => y.throughput)))!;
    const ops = runs.reduce((n, x) => n + x.ops, 0);
    out.push({
      concurrency, throughput: mid.throughput, p50: mid.p50, p99: mid.p99, errors: runs.reduce((n, x) => n + x.errors, 0),
      cpuMsPerOp: ops ? (after.cpuMicros - before.cpuMicros) / 1000 / ops : NaN, ...(mid.firstError ? { firstError: mid.firstError } : {}),
    });
  }
  return out;
}

type Scenario = 'login' | 'login_with_session' | 'refresh_token' | 'client_credentials' | 'discovery' | 'jwks';

async function runScenarios(server: Server): Promise<Record<Scenario, Measured[]>> {
  const base = server.base;
  const [app, app2] = BENCH_CLIENTS;
  const workers = Math.max(...CONCURRENCY);
  process.stderr.write(`  ${server.name}: login\n`);
  const login = await measure(server, () => fullLogin(base).then(() => {}));
  process.stderr.write(`  ${server.name}: login with session\n`);
  const sessions = await Promise.all(Array.from({ length: workers }, () => fullLogin(base).then((r) => r.agent)));
  const withSession = await measure(server, async (w) => {
    const { code, verifier } = await authorize(sessions[w]!, base, app2, 'openid email profile');
    await userinfo(base, (await redeem(base, app2, code, verifier)).access_token);
  });
  process.stderr.write(`  ${server.name}: token endpoint\n`);
  const refreshTokens = await Promise.all(Array.from({ length: workers }, async () =>
    (await fullLogin(base, new Agent(), app, 'openid offline_access', { prompt: 'consent' })).tokens.refresh_token!));
  const refresh = await measure(server, async (w) => {
    refreshTokens[w] = (await tokenRequest(base, app, { grant_type: 'refresh_token', refresh_token: refreshTokens[w]! })).refresh_token!;
  });
  const clientCredentials = await measure(server, () => tokenRequest(base, app, { grant_type: 'client_credentials' }).then(() => {}));
  process.stderr.write(`  ${server.name}: discovery and JWKS\n`);
  const discovery = await measure(server, () => get(`${base}/.well-known/openid-configuration`));
  const jwks = await measure(server, () => get(`${base}/jwks`));
  return { login, login_with_session: withSession, refresh_token: refresh, client_credentials: clientCredentials, discovery, jwks };
}

async function seedAccounts(db: pg.Client, total: number): Promise<void> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM "Account"');
  const from = Number(rows[0]!.n) + 1;
  if (from > total) return;
  // Accounts and identities as a real deployment has them: one Google identity each.
  await db.query(`INSERT INTO "Account" (id, email) SELECT 'seed-' || g, 'seed' || g || '@example.com' FROM generate_series($1::int, $2::int) g`, [from, total]);
  await db.query(`INSERT INTO "Identity" (id, provider, subject, "accountId", email, "emailCanonical", "emailVerified", profile, "lastLoginAt")
    SELECT 'seed-identity-' || g, 'google', 'seed-' || g, 'seed-' || g, 'seed' || g || '@example.com', 'seed' || g || '@example.com', true, '{"groups":[]}', now()
    FROM generate_series($1::int, $2::int) g`, [from, total]);
  await db.query('ANALYZE "Account"; ANALYZE "Identity"');
}

async function main(): Promise<void> {
  const started = new Date();
  let embedded: EmbeddedDatabase | undefined;
  let baseUrl = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
  try {
    const probe = new pg.Client({ connectionString: baseUrl });
    await probe.connect();
    await probe.end();
  } catch {
    process.stderr.write(`no PostgreSQL at ${baseUrl.replace(/:[^:@/]*@/, ':***@')}; starting the embedded one\n`);
    embedded = await startEmbeddedPostgres('./data/bench-postgres', log);
    baseUrl = embedded.url;
  }
  const suffix = started.getTime().toString(36);
  const schemaUrl = (name: string) => {
    const url = new URL(baseUrl);
    url.searchParams.set('schema', `bench_${name}_${suffix}`);
    return url.toString();
  };
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  const servers: Server[] = [];
  try {
    const results: Record<string, Record<Scenario, Measured[]>> = {};
    const peaks: Record<string, number> = {};

    if (SOAK_ONLY) {
      const doormanUrl = schemaUrl('doorman');
      const doormanPort = await freePort();
      const upstream = await spawnServer('upstream', 'upstream', doormanUrl, { env: { DOORMAN_PORT: String(doormanPort) } });
      servers.push(upstream);
      const kind = opts['soak-kind'];
      const doorman = await spawnServer(kind, kind, doormanUrl, { port: doormanPort, upstream: upstream.base });
      servers.push(doorman);
      const series: number[] = [];
      const sampler = setInterval(() => { void doorman.stats().then((st) => series.push(Math.round(st.rss / 1024 / 1024))); }, 5000);
      const soak = await runLoad(() => fullLogin(doorman.base).then(() => {}), 16, SOAK);
      clearInterval(sampler);
      process.stdout.write(`soak of ${kind}, ${SOAK} s: ${soak.throughput.toFixed(1)} logins/s, ${soak.errors} errors; RSS MB every 5 s: ${series.join(' ')}\n`);
      return;
    }
    process.stderr.write('baseline (b): bare oidc-provider, minimal pg adapter\n');
    const bare = await spawnServer('bare-pg', 'bare-pg', schemaUrl('pg'));
    results['baseline_b_pg'] = await runScenarios(bare);
    peaks['baseline_b_pg'] = (await bare.stats()).maxRssKb;
    await bare.stop();

    process.stderr.write('baseline (a): bare oidc-provider, Doorman\'s Prisma adapter\n');
    const barePrisma = await spawnServer('bare-prisma', 'bare-prisma', schemaUrl('prisma'));
    results['baseline_a_prisma'] = await runScenarios(barePrisma);
    peaks['baseline_a_prisma'] = (await barePrisma.stats()).maxRssKb;
    await barePrisma.stop();

    process.stderr.write('Doorman, brokering an upstream that answers at once\n');
    const doormanUrl = schemaUrl('doorman');
    const doormanPort = await freePort();
    // The upstream runs in its own process: its CPU is not Doorman's.
    const upstream = await spawnServer('upstream', 'upstream', doormanUrl, { env: { DOORMAN_PORT: String(doormanPort) } });
    servers.push(upstream);
    const doorman = await spawnServer('doorman', 'doorman', doormanUrl, { port: doormanPort, upstream: upstream.base });
    servers.push(doorman);
    results['doorman'] = await runScenarios(doorman);

    process.stderr.write('Doorman with 1 000 and 1 000 000 accounts\n');
    const db = new pg.Client({ connectionString: new URL(baseUrl).toString() });
    await db.connect();
    await db.query(`SET search_path TO "bench_doorman_${suffix}"`);
    const scaling: Record<string, { login_p50: number; refresh_p50: number; accounts: number }> = {};
    const app = BENCH_CLIENTS[0];
    for (const total of MILLION ? [1_000, 1_000_000] : [1_000]) {
      await seedAccounts(db, total);
      const loginRuns: LoadResult[] = [];
      for (let r = 0; r < RUNS; r++) loginRuns.push(await runLoad(() => fullLogin(doorman.base).then(() => {}), 1, SECONDS));
      let rt = (await fullLogin(doorman.base, new Agent(), app, 'openid offline_access', { prompt: 'consent' })).tokens.refresh_token!;
      const refreshRuns: LoadResult[] = [];
      for (let r = 0; r < RUNS; r++) {
        refreshRuns.push(await runLoad(async () => { rt = (await tokenRequest(doorman.base, app, { grant_type: 'refresh_token', refresh_token: rt })).refresh_token!; }, 1, SECONDS));
      }
      scaling[String(total)] = { accounts: total, login_p50: median(loginRuns.map((x) => x.p50)), refresh_p50: median(refreshRuns.map((x) => x.p50)) };
      process.stderr.write(`  ${total} accounts: login p50 ${scaling[String(total)]!.login_p50.toFixed(2)} ms, refresh p50 ${scaling[String(total)]!.refresh_p50.toFixed(2)} ms\n`);
    }

    process.stderr.write(`Doorman soak: logins at concurrency 16 for ${SOAK} s, RSS every 5 s\n`);
    const rssSeries: number[] = [];
    const sampler = setInterval(() => { void doorman.stats().then((s) => rssSeries.push(Math.round(s.rss / 1024 / 1024))); }, 5000);
    const soak = await runLoad(() => fullLogin(doorman.base).then(() => {}), 16, SOAK);
    clearInterval(sampler);
    const final = await doorman.stats();
    peaks['doorman'] = final.maxRssKb;
    const { rows: [oidcRows] } = await db.query<{ total: string; expired: string }>(
      `SELECT count(*) AS total, count(*) FILTER (WHERE "expiresAt" < now()) AS expired FROM "OidcModel"`);
    await db.end();

    const report = {
      startedAt: started.toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      settings: { seconds: SECONDS, runs: RUNS, concurrency: CONCURRENCY, soakSeconds: SOAK },
      results, scaling, peakRssMb: Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, Math.round(v / 1024)])),
      soak: { throughput: soak.throughput, errors: soak.errors, rssMbEvery5s: rssSeries, oidcRows: { total: Number(oidcRows!.total), expired: Number(oidcRows!.expired) } },
    };
    printReport(report);
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    const file = new URL(`./results/${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\nresults written to bench/results/${file.pathname.split('/').pop()}\n`);
  } finally {
    for (const s of servers.reverse()) await s.stop().catch(() => {});
    for (const name of ['pg', 'prisma', 'doorman']) await admin.query(`DROP SCHEMA IF EXISTS "bench_${name}_${suffix}" CASCADE`).catch(() => {});
    await admin.end();
    await embedded?.stop();
  }
}

const TARGETS: Record<Scenario, number> = { login: 0.8, login_with_session: 0.9, refresh_token: 0.9, client_credentials: 0.9, discovery: 0.9, jwks: 0.9 };

function printReport(r: { results: Record<string, Record<Scenario, Measured[]>>; scaling: Record<string, { login_p50: number; refresh_p50: number }>; peakRssMb: Record<string, number>; soak: { rssMbEvery5s: number[]; throughput: number; errors: number; oidcRows: { total: number; expired: number } } }): void {
  const d = r.results.doorman!;
  const a = r.results.baseline_a_prisma!;
  const b = r.results.baseline_b_pg!;
  const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
  const lines = [
    '',
    'scenario            c   Doorman/s   p50 ms  p99 ms  cpu ms/op | (a) prisma/s  p50 ms | (b) pg/s  p50 ms | D/b   target  D/a   a/b',
  ];
  for (const scenario of Object.keys(TARGETS) as Scenario[]) {
    for (let i = 0; i < CONCURRENCY.length; i++) {
      const [x, y, z] = [d[scenario][i]!, a[scenario][i]!, b[scenario][i]!];
      const ratio = x.throughput / z.throughput;
      lines.push([
        scenario.padEnd(18), String(x.concurrency).padStart(2), f(x.throughput).padStart(11), f(x.p50, 2).padStart(8), f(x.p99, 2).padStart(7), f(x.cpuMsPerOp, 2).padStart(10), '|',
        f(y.throughput).padStart(12), f(y.p50, 2).padStart(7), '|', f(z.throughput).padStart(8), f(z.p50, 2).padStart(7), '|',
        f(ratio, 2).padStart(4), `${ratio >= TARGETS[scenario] ? 'ok  ' : 'MISS'} ${TARGETS[scenario]}`.padStart(8),
        f(x.throughput / y.throughput, 2).padStart(5), f(y.throughput / z.throughput, 2).padStart(5),
        x.errors + y.errors + z.errors ? ` errors ${x.errors}/${y.errors}/${z.errors} ${x.firstError ?? y.firstError ?? z.firstError ?? ''}` : '',
      ].join(' '));
    }
  }
  const counts = Object.keys(r.scaling);
  if (counts.length === 2) {
    const [small, large] = counts.map((k) => r.scaling[k]!);
    lines.push('', `p50 at ${counts[1]} vs ${counts[0]} accounts: login ${f(large!.login_p50, 2)} / ${f(small!.login_p50, 2)} ms = ${f(large!.login_p50 / small!.login_p50, 2)}x, refresh ${f(large!.refresh_p50, 2)} / ${f(small!.refresh_p50, 2)} ms = ${f(large!.refresh_p50 / small!.refresh_p50, 2)}x (target <= 1.2x)`);
  }
  lines.push(`peak RSS MB: ${Object.entries(r.peakRssMb).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`soak: ${f(r.soak.throughput)} logins/s, ${r.soak.errors} errors, Doorman RSS MB every 5 s: ${r.soak.rssMbEvery5s.join(' ')}; OidcModel rows ${r.soak.oidcRows.total}, of them expired ${r.soak.oidcRows.expired}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
