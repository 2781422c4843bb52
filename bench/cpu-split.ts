// CPU per login split by process: server, upstream, postgres (all backends), this driver.
// usage (from a checkout): node --import tsx /work/tools/cpu-split.ts <doorman|bare-pg> <seconds> <concurrency> [flow]
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import pg from "pg";
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const { freePort } = await import(`${root}/src/free-port.ts`);
const { fullLogin, get, tokenRequest } = await import(`${root}/bench/flows.ts`);
const { BENCH_CLIENTS } = await import(`${root}/bench/clients.ts`);
const { runLoad } = await import(`${root}/bench/load.ts`);
const { benchDoormanConfig } = await import(`${root}/bench/doorman-config.ts`);
const [kind = 'doorman', secs = '8', conc = '4', flowName = 'login'] = process.argv.slice(2);
const base = 'postgresql://postgres@127.0.0.1:5432/test';
const url = new URL(base); url.searchParams.set('schema', `cpusplit_${Date.now().toString(36)}`);
const TICK = 100; // USER_HZ
const ticksOf = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return Number(f[11]) + Number(f[12]); };
const pgPids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => { try { return readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('postgres'); } catch { return false; } }).map(Number);
const pgTicks = () => pgPids().reduce((n, p) => { try { return n + ticksOf(p); } catch { return n; } }, 0);
async function start(k: string, port: number, upstream: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  let child: ChildProcess;
  if (k === 'doorman') {
    const { input, env: secrets } = benchDoormanConfig(port, upstream, url.toString());
    child = fork(`${root}/bench/doorman-process.mjs`, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, BENCH_DOORMAN_CONFIG: JSON.stringify(input), BENCH_DOORMAN_ENV: JSON.stringify(secrets) } });
  } else {
    child = fork(`${root}/bench/server.ts`, [k, String(port), upstream], { execArgv: ['--import', 'tsx'], env: { ...process.env, DATABASE_URL: url.toString(), ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }
  await once(child, 'message');
  return child;
}
const [sp, up] = [await freePort(), await freePort()];
const upstream = await start('upstream', up, '', { DOORMAN_PORT: String(sp) });
const target = await start(kind, sp, `http://127.0.0.1:${up}`);
const origin = `http://127.0.0.1:${sp}`;
const FLOWS: Record<string, () => Promise<void>> = {
  login: () => fullLogin(origin).then(() => {}),
  discovery: () => get(`${origin}/.well-known/openid-configuration`),
  client_credentials: () => tokenRequest(origin, BENCH_CLIENTS[0], { grant_type: 'client_credentials' }).then(() => {}),
};
const flow = FLOWS[flowName]!;
await runLoad(flow, Number(conc), 3);
const t0 = { s: ticksOf(target.pid!), u: ticksOf(upstream.pid!), p: pgTicks(), d: process.cpuUsage() };
const r = await runLoad(flow, Number(conc), Number(secs));
const d = process.cpuUsage(t0.d);
const per = (ticks: number) => (ticks * 1000 / TICK / r.ops).toFixed(2);
console.log(`${kind} ${flowName} c=${conc}: ${r.throughput.toFixed(1)}/s, errors ${r.errors}; CPU ms per op: server ${per(ticksOf(target.pid!) - t0.s)}, upstream ${per(ticksOf(upstream.pid!) - t0.u)}, postgres ${per(pgTicks() - t0.p)}, driver ${((d.user + d.system) / 1000 / r.ops).toFixed(2)}`);
for (const c of [target, upstream]) { c.kill('SIGTERM'); await once(c, 'exit'); }
const c = new pg.Client({ connectionString: base }); await c.connect(); await c.query(`DROP SCHEMA IF EXISTS "${url.searchParams.get('schema')}" CASCADE`); await c.end();
