import { readdirSync, readFileSync } from 'node:fs';
import { freePort } from '../src/free-port.ts';
import { BENCH_CLIENTS } from './clients.ts';
import { startOneServer, stopServersAndDropSchema } from './one-server.ts';
import { fullLogin, get, tokenRequest } from './flows.ts';
import { runLoad } from './load.ts';

/**
 * Whose CPU an operation costs on this machine: the server (Doorman's production build,
 * or a baseline), the upstream look-alike, PostgreSQL (all its processes) and this load
 * driver, per operation, read from /proc. `npm run bench` reports the server's alone; at
 * concurrency 16 on a small machine all four share the cores, so this is what limits the
 * flows/s there.
 *   npm run bench:cpu -- [doorman|bare-pg] [seconds] [concurrency] [login|discovery|client_credentials]
 * doorman needs `npm run build` first. Linux only (/proc); CPU of processes that start and
 * end during the run is not seen (the servers keep their database connections).
 */
const [kind = 'doorman', seconds = '8', concurrency = '16', flowName = 'login'] = process.argv.slice(2);
const base = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const url = new URL(base);
url.searchParams.set('schema', `bench_cpu_${Date.now().toString(36)}`);
const TICKS_PER_SECOND = 100; // USER_HZ

/** utime + stime of a process, in clock ticks (proc(5), fields 14 and 15). */
function ticksOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function postgresTicks(): number {
  let sum = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith('postgres')) sum += ticksOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}

const start = (k: string, port: number, upstream: string, env: Record<string, string> = {}) => startOneServer(k, port, upstream, url.toString(), env);

const [serverPort, upstreamPort] = [await freePort(), await freePort()];
const upstream = await start('upstream', upstreamPort, '', { DOORMAN_PORT: String(serverPort) });
const server = await start(kind, serverPort, `http://127.0.0.1:${upstreamPort}`);
const origin = `http://127.0.0.1:${serverPort}`;
const FLOWS: Record<string, () => Promise<void>> = {
  login: () => fullLogin(origin).then(() => {}),
  discovery: () => get(`${origin}/.well-known/openid-configuration`),
  client_credentials: () => tokenRequest(origin, BENCH_CLIENTS[0], { grant_type: 'client_credentials' }).then(() => {}),
};
const flow = FLOWS[flowName];
if (!flow) throw new Error(`unknown flow ${flowName}: one of ${Object.keys(FLOWS).join(', ')}`);
await runLoad(flow, Number(concurrency), 3);
const before = { server: ticksOf(server.pid!), upstream: ticksOf(upstream.pid!), postgres: postgresTicks(), driver: process.cpuUsage() };
const result = await runLoad(flow, Number(concurrency), Number(seconds));
const driver = process.cpuUsage(before.driver);
const perOp = (ticks: number) => (ticks * 1000 / TICKS_PER_SECOND / result.ops).toFixed(2);
process.stdout.write(`${kind} ${flowName} at concurrency ${concurrency}: ${result.throughput.toFixed(1)}/s, ${result.errors} errors; CPU ms per operation: `
  + `server ${perOp(ticksOf(server.pid!) - before.server)}, upstream ${perOp(ticksOf(upstream.pid!) - before.upstream)}, `
  + `PostgreSQL ${perOp(postgresTicks() - before.postgres)}, load driver ${((driver.user + driver.system) / 1000 / result.ops).toFixed(2)}\n`);
await stopServersAndDropSchema([server, upstream], url);
