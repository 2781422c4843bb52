import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../src/db/embedded.ts';
import { freePort } from '../src/free-port.ts';
import { createLogger } from '../src/log.ts';
import { Agent } from './agent.ts';
import { authorize, fullLogin, get, redeem, tokenRequest, userinfo } from './flows.ts';
import { median, runLoad, type LoadResult } from './load.ts';
import { BENCH_CLIENTS } from './clients.ts';
import { benchDoormanConfig } from './doorman-config.ts';

/**
 * `npm run bench`: Doorman (the production build, dist/) beside bare oidc-provider on a
 * minimal pg adapter (baseline b), same Node, same database, one run, their loads
 * interleaved (b, Doorman, Doorman with one process per core, again ...) so that a busy
 * machine slows all alike. Starts and stops all it measures; every load is bounded in
 * time. Prints a table, writes bench/results/<time>.json.
 *   --seconds N (2)  --runs N (3)  --soak N (60)  --no-million  --no-build  --quick (1 run of 2 s, no 1M, 10 s soak)
 *   --soak-only [--soak-kind doorman|bare-pg]: only a soak (with --soak N), to watch memory over a longer run
 *   --against <dir>: also Doorman built in another checkout (its dist/, with this bench/doorman-process.mjs and
 *     profiler.mjs copied into its bench/), in the same turns: a change against main under the same load
 */
const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' }, runs: { type: 'string', default: '3' }, soak: { type: 'string', default: '60' },
    'no-million': { type: 'boolean', default: false }, quick: { type: 'boolean', default: false }, 'no-build': { type: 'boolean', default: false },
    'soak-only': { type: 'boolean', default: false }, 'soak-kind': { type: 'string', default: 'doorman' }, against: { type: 'string' },
  },
});
const SOAK_ONLY = opts['soak-only'];
const SECONDS = opts.quick ? 2 : Number(opts.seconds);
const RUNS = opts.quick ? 1 : Number(opts.runs);
const SOAK = opts.quick ? 10 : Number(opts.soak);
const MILLION = !(opts.quick || opts['no-million']);
const CONCURRENCY = [1, 16];
const WORKERS = cpus().length;
const log = createLogger('error');

interface Stats { cpuMicros: number; rss: number; maxRssKb: number; statements: number; processes: number }
interface Server { name: string; base: string; child: ChildProcess; stats(): Promise<Stats>; stop(): Promise<void> }

function attach(name: string, base: string, child: ChildProcess): Promise<Server> {
  return (async () => {
    const [msg] = await Promise.race([once(child, 'message'), once(child, 'exit').then(() => { throw new Error(`${name} exited`); })]) as [{ ready?: boolean }];
    if (!msg.ready) throw new Error(`${name} did not start`);
    return {
      name, base, child,
      stats: async () => {
        child.send({ cmd: 'stats' });
        const [reply] = await once(child, 'message') as [{ stats: Stats }];
        return reply.stats;
      },
      stop: async () => {
        // Stopped already (the measuring phases stop servers they are done with; the end
        // stops all): a child that is gone never emits 'exit' again, and awaiting it hung the run.
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          process.stderr.write(`${name} did not stop within 10 s of SIGTERM: killed\n`);
          child.kill('SIGKILL');
        }, 10_000);
        await exited;
        clearTimeout(timer);
      },
    };
  })();
}

/** The upstream look-alike and the baselines: bench/server.ts under tsx (they are not what is measured against targets). */
async function spawnServer(name: string, kind: string, databaseUrl: string, extra: { port?: number; env?: Record<string, string> } = {}): Promise<Server> {
  const port = extra.port ?? await freePort();
  const child = fork(new URL('./server.ts', import.meta.url).pathname, [kind, String(port)], {
    execArgv: ['--import', 'tsx'], env: { ...process.env, DATABASE_URL: databaseUrl, ...extra.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return attach(name, `http://127.0.0.1:${port}`, child);
}

/** Doorman as production runs it: dist/ on plain Node, `workers` processes on one port. */
async function spawnDoorman(name: string, databaseUrl: string, workers: number, checkout = new URL('..', import.meta.url).pathname): Promise<{ doorman: Server; upstream: Server }> {
  const port = await freePort();
  // The upstream runs in its own process: its CPU is not Doorman's.
  const upstream = await spawnServer(`${name} upstream`, 'upstream', databaseUrl, { env: { DOORMAN_PORT: String(port) } });
  const { input, env } = benchDoormanConfig(port, upstream.base, databaseUrl);
  const child = fork(`${checkout}/bench/doorman-process.mjs`, [], {
    execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_DOORMAN_CONFIG: JSON.stringify(input), BENCH_DOORMAN_ENV: JSON.stringify(env), BENCH_WORKERS: String(workers) },
  });
  return { doorman: await attach(name, `http://127.0.0.1:${port}`, child), upstream };
}

interface Measured { concurrency: number; throughput: number; p50: number; p99: number; errors: number; cpuMsPerOp: number; statementsPerOp: number; firstError?: string }
type Op = (worker: number) => Promise<void>;

/**
 * Each server's op at each concurrency, RUNS times, the servers taking turns run by run;
 * CPU and statements are counted around each server's own runs only.
 */
async function compare(servers: Server[], ops: Op[]): Promise<Measured[][]> {
  const out: Measured[][] = servers.map(() => []);
  for (const concurrency of CONCURRENCY) {
    const runs: LoadResult[][] = servers.map(() => []);
    const cpu = servers.map(() => 0);
    const statements = servers.map(() => 0);
    for (let r = 0; r < RUNS; r++) {
      for (const [i, server] of servers.entries()) {
        const before = await server.stats();
        runs[i]!.push(await runLoad(ops[i]!, concurrency, SECONDS));
        const after = await server.stats();
        cpu[i]! += after.cpuMicros - before.cpuMicros;
        statements[i]! += after.statements - before.statements;
      }
    }
    for (const [i, mine] of runs.entries()) {
      const mid = mine.find((x) => x.throughput === median(mine.map((y) => y.throughput)))!;
      const ops = mine.reduce((n, x) => n + x.ops, 0);
      out[i]!.push({
        concurrency, throughput: mid.throughput, p50: mid.p50, p99: mid.p99, errors: mine.reduce((n, x) => n + x.errors, 0),
        cpuMsPerOp: ops ? cpu[i]! / 1000 / ops : NaN, statementsPerOp: ops ? statements[i]! / ops : NaN, ...(mid.firstError ? { firstError: mid.firstError } : {}),
      });
    }
  }
  return out;
}

type Scenario = 'login' | 'login_with_session' | 'refresh_token' | 'client_credentials' | 'discovery' | 'jwks';

async function runScenarios(servers: Server[]): Promise<Record<Scenario, Measured[]>[]> {
  const [app, app2] = BENCH_CLIENTS;
  const workers = Math.max(...CONCURRENCY);
  const each = (make: (base: string, i: number) => Op) => servers.map((s, i) => make(s.base, i));
  const results: Partial<Record<Scenario, Measured[][]>> = {};
  process.stderr.write('  login\n');
  results.login = await compare(servers, each((base) => () => fullLogin(base).then(() => {})));
  process.stderr.write('  login with session\n');
  const sessions = await Promise.all(servers.map((s) => Promise.all(Array.from({ length: workers }, () => fullLogin(s.base).then((r) => r.agent)))));
  results.login_with_session = await compare(servers, each((base, i) => async (w) => {
    const { code, verifier } = await authorize(sessions[i]![w]!, base, app2, 'openid email profile');
    await userinfo(base, (await redeem(base, app2, code, verifier)).access_token);
  }));
  process.stderr.write('  token endpoint\n');
  const refreshTokens = await Promise.all(servers.map((s) => Promise.all(Array.from({ length: workers }, async () =>
    (await fullLogin(s.base, new Agent(), app, 'openid offline_access', { prompt: 'consent' })).tokens.refresh_token!))));
  results.refresh_token = await compare(servers, each((base, i) => async (w) => {
    refreshTokens[i]![w] = (await tokenRequest(base, app, { grant_type: 'refresh_token', refresh_token: refreshTokens[i]![w]! })).refresh_token!;
  }));
  results.client_credentials = await compare(servers, each((base) => () => tokenRequest(base, app, { grant_type: 'client_credentials' }).then(() => {})));
  process.stderr.write('  discovery and JWKS\n');
  results.discovery = await compare(servers, each((base) => () => get(`${base}/.well-known/openid-configuration`)));
  results.jwks = await compare(servers, each((base) => () => get(`${base}/jwks`)));
  return servers.map((_, i) => Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v[i]!])) as Record<Scenario, Measured[]>);
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
  // Settled before measuring: statistics, visibility map and hint bits written, dirty pages
  // flushed, so autovacuum and the checkpointer do not run during the timed logins.
  await db.query('VACUUM (ANALYZE) "Account", "Identity"');
  await db.query('CHECKPOINT').catch(() => {}); // needs a superuser or pg_checkpoint; only a steadier measurement without it
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
  if (!opts['no-build']) {
    process.stderr.write('npm run build (the production build is what is measured)\n');
    const build = spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  const servers: Server[] = [];
  const keep = <T extends { doorman: Server; upstream: Server }>(x: T) => (servers.push(x.upstream, x.doorman), x.doorman);
  try {
    if (SOAK_ONLY) {
      const kind = opts['soak-kind'];
      const target = kind === 'doorman' ? keep(await spawnDoorman('doorman', schemaUrl('doorman'), 1)) : await spawnServer(kind, kind, schemaUrl('pg'));
      if (kind !== 'doorman') servers.push(target);
      const series: number[] = [];
      const sampler = setInterval(() => { void target.stats().then((st) => series.push(Math.round(st.rss / 1024 / 1024))); }, 5000);
      const soak = await runLoad(() => fullLogin(target.base).then(() => {}), 16, SOAK);
      clearInterval(sampler);
      process.stdout.write(`soak of ${kind}, ${SOAK} s: ${soak.throughput.toFixed(1)} logins/s, ${soak.errors} errors; RSS MB every 5 s: ${series.join(' ')}\n`);
      return;
    }
    const load = loadavg()[0]!;
    process.stderr.write(`servers: baseline (b) bare oidc-provider on a minimal pg adapter; Doorman (dist/, 1 process); Doorman with ${WORKERS} processes (one per core)\n`);
    const bare = await spawnServer('bare-pg', 'bare-pg', schemaUrl('pg'));
    servers.push(bare);
    const doorman = keep(await spawnDoorman('doorman', schemaUrl('doorman'), 1));
    const cluster = keep(await spawnDoorman(`doorman x${WORKERS}`, schemaUrl('cluster'), WORKERS));
    const other = opts.against ? keep(await spawnDoorman('doorman (--against)', schemaUrl('against'), 1, opts.against)) : undefined;
    const [b, d, c, o] = await runScenarios(other ? [bare, doorman, cluster, other] : [bare, doorman, cluster]);
    const results = { baseline_b_pg: b!, doorman: d!, doorman_per_core: c!, ...(o ? { doorman_against: o } : {}) };
    await other?.stop();
    const peaks = { baseline_b_pg: (await bare.stats()).maxRssKb, doorman: (await doorman.stats()).maxRssKb };
    const clusterStats = await cluster.stats();
    await bare.stop();
    await cluster.stop();

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
    const sampler = setInterval(() => { void doorman.stats().then((st) => rssSeries.push(Math.round(st.rss / 1024 / 1024))); }, 5000);
    const soak = await runLoad(() => fullLogin(doorman.base).then(() => {}), 16, SOAK);
    clearInterval(sampler);
    peaks.doorman = (await doorman.stats()).maxRssKb;
    const { rows: [oidcRows] } = await db.query<{ total: string; expired: string }>(
      `SELECT count(*) AS total, count(*) FILTER (WHERE "expiresAt" < now()) AS expired FROM "OidcModel"`);
    await db.end();

    const report = {
      startedAt: started.toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadAverageAtStart: Number(load.toFixed(2)) },
      settings: { seconds: SECONDS, runs: RUNS, concurrency: CONCURRENCY, soakSeconds: SOAK, processesPerCore: WORKERS },
      results, scaling,
      peakRssMb: Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, Math.round(v / 1024)])),
      perCore: { processes: clusterStats.processes, peakRssMbSum: Math.round(clusterStats.maxRssKb / 1024) },
      soak: { throughput: soak.throughput, errors: soak.errors, rssMbEvery5s: rssSeries, oidcRows: { total: Number(oidcRows!.total), expired: Number(oidcRows!.expired) } },
    };
    printReport(report);
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    const file = new URL(`./results/${started.toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\nresults written to bench/results/${file.pathname.split('/').pop()}\n`);
  } finally {
    for (const s of servers.reverse()) await s.stop().catch(() => {});
    for (const name of ['pg', 'doorman', 'cluster', 'against']) await admin.query(`DROP SCHEMA IF EXISTS "bench_${name}_${suffix}" CASCADE`).catch(() => {});
    await admin.end();
    await embedded?.stop();
  }
}

/** The issue's targets: Doorman's flows/s over baseline (b)'s. */
const TARGETS: Record<Scenario, number> = { login: 0.85, login_with_session: 1.0, refresh_token: 1.0, client_credentials: 1.0, discovery: 1.0, jwks: 1.0 };

interface Report {
  machine: { loadAverageAtStart: number };
  results: Record<'baseline_b_pg' | 'doorman' | 'doorman_per_core', Record<Scenario, Measured[]>> & { doorman_against?: Record<Scenario, Measured[]> };
  scaling: Record<string, { login_p50: number; refresh_p50: number }>; peakRssMb: Record<string, number>; perCore: { processes: number; peakRssMbSum: number };
  soak: { rssMbEvery5s: number[]; throughput: number; errors: number; oidcRows: { total: number; expired: number } };
}

function printReport(r: Report): void {
  const { doorman: d, baseline_b_pg: b, doorman_per_core: c, doorman_against: o } = r.results;
  const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
  const lines = [
    '',
    `load average at start ${r.machine.loadAverageAtStart}; ratios are of runs taken in turns, so a busy machine slows both sides`,
    '',
    `scenario            c | Doorman/s  p50 ms  p99 ms cpu ms/op  SQL/op | (b) pg/s  p50 ms cpu ms/op  SQL/op |  D/b  target | ${r.perCore.processes - 1} procs/s  /b${o ? ' | --against/s cpu ms/op SQL/op  D/it' : ''}`,
  ];
  for (const scenario of Object.keys(TARGETS) as Scenario[]) {
    for (let i = 0; i < CONCURRENCY.length; i++) {
      const [x, z, y] = [d[scenario][i]!, b[scenario][i]!, c[scenario][i]!];
      const ratio = x.throughput / z.throughput;
      lines.push([
        scenario.padEnd(18), String(x.concurrency).padStart(2), '|', f(x.throughput).padStart(9), f(x.p50, 2).padStart(7), f(x.p99, 2).padStart(7), f(x.cpuMsPerOp, 2).padStart(9), f(x.statementsPerOp, 1).padStart(7), '|',
        f(z.throughput).padStart(8), f(z.p50, 2).padStart(7), f(z.cpuMsPerOp, 2).padStart(9), f(z.statementsPerOp, 1).padStart(7), '|',
        f(ratio, 2).padStart(4), `${ratio >= TARGETS[scenario] ? 'ok  ' : 'MISS'} ${TARGETS[scenario].toFixed(2)}`.padStart(10), '|',
        f(y.throughput).padStart(10), f(y.throughput / z.throughput, 2).padStart(5),
        ...(o ? ['|', f(o[scenario][i]!.throughput).padStart(11), f(o[scenario][i]!.cpuMsPerOp, 2).padStart(10), f(o[scenario][i]!.statementsPerOp, 1).padStart(6), f(x.throughput / o[scenario][i]!.throughput, 2).padStart(5)] : []),
        x.errors + y.errors + z.errors ? ` errors ${x.errors}/${z.errors}/${y.errors} ${x.firstError ?? z.firstError ?? y.firstError ?? ''}` : '',
      ].join(' '));
    }
  }
  const counts = Object.keys(r.scaling);
  if (counts.length === 2) {
    const [small, large] = counts.map((k) => r.scaling[k]!);
    lines.push('', `p50 at ${counts[1]} vs ${counts[0]} accounts: login ${f(large!.login_p50, 2)} / ${f(small!.login_p50, 2)} ms = ${f(large!.login_p50 / small!.login_p50, 2)}x, refresh ${f(large!.refresh_p50, 2)} / ${f(small!.refresh_p50, 2)} ms = ${f(large!.refresh_p50 / small!.refresh_p50, 2)}x (target <= 1.2x)`);
  }
  lines.push(`peak RSS MB per process: ${Object.entries(r.peakRssMb).map(([k, v]) => `${k} ${v}`).join(', ')}; Doorman with ${r.perCore.processes - 1} worker processes ${r.perCore.peakRssMbSum} in all (their cluster primary included)`);
  lines.push(`soak: ${f(r.soak.throughput)} logins/s, ${r.soak.errors} errors, Doorman RSS MB every 5 s: ${r.soak.rssMbEvery5s.join(' ')}; OidcModel rows ${r.soak.oidcRows.total}, of them expired ${r.soak.oidcRows.expired}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
