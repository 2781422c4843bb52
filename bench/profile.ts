import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/free-port.ts';
import { fullLogin, get, tokenRequest } from './flows.ts';
import { BENCH_CLIENTS } from './clients.ts';
import { runLoad } from './load.ts';
import { startOneServer, stopServersAndDropSchema } from './one-server.ts';

/**
 * Where a server spends its CPU during logins: starts one server kind, drives logins for
 * 3 s to warm it up, then records a CPU profile (inspector, bench/profiler.mjs) over
 * `seconds` of logins at concurrency 4, and prints self time by package and the hottest
 * functions. `doorman` is the production build (dist/: run `npm run build` first). The
 * flow is the full login unless named: discovery, jwks or client_credentials show the
 * per-request cost of the middleware in front of oidc-provider.
 *   npm run bench:profile -- [doorman|bare-prisma|bare-pg] [seconds] [login|discovery|jwks|client_credentials]
 */
const kind = process.argv[2] ?? 'doorman';
const seconds = Number(process.argv[3] ?? 8);
const flowName = process.argv[4] ?? 'login';
const base = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const url = new URL(base);
url.searchParams.set('schema', `bench_profile_${Date.now().toString(36)}`);
const dir = mkdtempSync(join(tmpdir(), 'doorman-prof-'));

const start = (k: string, port: number, upstream: string, env: Record<string, string> = {}) => startOneServer(k, port, upstream, url.toString(), env);

async function ask(child: ChildProcess, msg: Record<string, string>): Promise<void> {
  child.send(msg);
  await once(child, 'message');
}

const [serverPort, upstreamPort] = [await freePort(), await freePort()];
const upstream = await start('upstream', upstreamPort, '', { DOORMAN_PORT: String(serverPort) });
const target = await start(kind, serverPort, `http://127.0.0.1:${upstreamPort}`);
const origin = `http://127.0.0.1:${serverPort}`;
const FLOWS: Record<string, () => Promise<void>> = {
  login: () => fullLogin(origin).then(() => {}),
  discovery: () => get(`${origin}/.well-known/openid-configuration`),
  jwks: () => get(`${origin}/jwks`),
  client_credentials: () => tokenRequest(origin, BENCH_CLIENTS[0], { grant_type: 'client_credentials' }).then(() => {}),
};
const login = FLOWS[flowName];
if (!login) throw new Error(`unknown flow ${flowName}: one of ${Object.keys(FLOWS).join(', ')}`);
await runLoad(login, 4, 3);
await ask(target, { cmd: 'profile-start' });
const result = await runLoad(login, 4, seconds);
const file = join(dir, `${kind}.cpuprofile`);
await ask(target, { cmd: 'profile-stop', file });
await stopServersAndDropSchema([target, upstream], url);

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] }
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; startTime: number; endTime: number };
const total = profile.nodes.reduce((n, x) => n + x.hitCount, 0);
const byPackage = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const n of profile.nodes) {
  const u = n.callFrame.url;
  const pkg = u.includes('node_modules/') ? u.split('node_modules/').pop()!.split('/').slice(0, u.includes('node_modules/@') ? 2 : 1).join('/')
    : /\/(src|dist)\//.test(u) ? `doorman ${u.split(/\/(?:src|dist)\//).pop()}` : u.startsWith('node:') ? u : n.callFrame.functionName ? '(native)' : `(${n.callFrame.functionName || 'idle/gc'})`;
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + n.hitCount);
  const fn = `${n.callFrame.functionName || '(anonymous)'} ${u.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + n.hitCount);
}
const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');

/**
 * CPU per login by part: each sample goes to the innermost frame on its stack that one of
 * these matches (a socket write under pg is SQL; one under Koa is the HTTP server).
 */
const PARTS: [string, RegExp][] = [
  ['SQL (pg driver, its socket writes)', /node_modules\/(pg|pg-pool|pg-protocol|pg-types)\//],
  ['upstream hop (fetch, openid-client, oauth4webapi)', /node_modules\/(openid-client|oauth4webapi)\/|\/(src|dist)\/upstreams\/|undici/],
  ['cookies (keygrip, tsscmp)', /node_modules\/(keygrip|tsscmp|cookies)\//],
  ['JWT/JWS (jose)', /node_modules\/jose\//],
  ['pages (eta, render, i18n)', /node_modules\/eta\/|\/(src|dist)\/(http\/render|i18n\/)/],
  ['rate limits', /rate-limiter-flexible|\/(src|dist)\/rate-limits\//],
  ['metrics, logs', /node_modules\/(prom-client|pino)|\/(src|dist)\/(metrics\/|log\.|http\/request-log)/],
  ['Doorman, other own code', /\/(src|dist)\//],
  ['oidc-provider', /node_modules\/oidc-provider\//],
  ['Koa, HTTP server', /node_modules\/(koa|koa-compose|delegates|on-finished|type-is|accepts|@koa)\/|node:_http|node:net/],
];
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const parts = new Map<string, number>();
let busy = 0;
for (const id of profile.samples) {
  const leaf = byId.get(id)!.callFrame.functionName;
  if (leaf === '(idle)') continue;
  busy++;
  let part = leaf === '(garbage collector)' ? 'GC' : undefined;
  for (let cur: number | undefined = id; cur !== undefined && !part; cur = parentOf.get(cur)) {
    part = PARTS.find(([, re]) => re.test(byId.get(cur!)!.callFrame.url))?.[0];
  }
  part ??= 'other (Node internals)';
  parts.set(part, (parts.get(part) ?? 0) + 1);
}
const logins = result.ops;
const msPerSample = (profile.endTime - profile.startTime) / 1000 / profile.samples.length;
const partLines = [...parts].sort((a, b) => b[1] - a[1])
  .map(([k, v]) => `${(100 * v / busy).toFixed(0).padStart(4)}%  ${(v * msPerSample / logins).toFixed(3).padStart(7)} ms  ${k}`).join('\n');
process.stdout.write(`${kind}: ${result.throughput.toFixed(1)} ${flowName} flows/s at concurrency 4 while profiled (${result.errors} errors); ${logins} flows in ${file}\n\n`
  + `busy ${(busy * msPerSample / logins).toFixed(3)} ms per flow by part (sampled wall time while on CPU or in a syscall: on a busy machine above process CPU time)\n${partLines}\n\n`
  + `self time by package\n${top(byPackage, 20)}\n\nhottest functions\n${top(byFunction, 25)}\n`);
