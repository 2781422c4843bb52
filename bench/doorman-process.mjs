// The Doorman the benchmark measures: the production build (dist/, `npm run build`), plain
// Node, no tsx. Plain JavaScript so that nothing compiles it at start either.
//   node bench/doorman-process.mjs   with env BENCH_DOORMAN_CONFIG (config input as JSON),
//   BENCH_DOORMAN_ENV (JSON: DATABASE_URL, secrets), BENCH_WORKERS (processes, default 1).
// With BENCH_WORKERS > 1 it runs Node's cluster: one Doorman process per worker on one
// port, connections handed round-robin by the primary. Tells the parent {ready} over IPC
// and answers {cmd: 'stats'} with CPU time, memory and SQL statements of all its processes.
import cluster from 'node:cluster';
import { once } from 'node:events';
import pg from 'pg';
import { onProfileCommand } from './profiler.mjs';

const workers = Number(process.env.BENCH_WORKERS ?? 1);

// Every statement a process sends, counted where node-postgres sends it (Prisma's adapter included).
let statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(...args) {
  statements++;
  return query.apply(this, args);
};

function ownStats() {
  const cpu = process.cpuUsage();
  return { cpuMicros: cpu.user + cpu.system, rss: process.memoryUsage().rss, maxRssKb: process.resourceUsage().maxRSS, statements, processes: 1 };
}

async function startOne() {
  const { buildConfig } = await import('../dist/config/load.js');
  const { startDoorman } = await import('../dist/server.js');
  const { createLogger } = await import('../dist/log.js');
  const config = buildConfig(JSON.parse(process.env.BENCH_DOORMAN_CONFIG), JSON.parse(process.env.BENCH_DOORMAN_ENV));
  await startDoorman(config, createLogger('error'), '127.0.0.1');
}

if (workers > 1 && cluster.isPrimary) {
  const children = [];
  // One after the other: the first one migrates and makes the keys, the others find them.
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork();
    const [msg] = await Promise.race([once(worker, 'message'), once(worker, 'exit').then(() => [{ failed: true }])]);
    if (!msg.ready) process.exit(1);
    children.push(worker);
  }
  process.on('message', async (msg) => {
    if (msg.cmd !== 'stats') return;
    const all = [ownStats(), ...await Promise.all(children.map(async (w) => {
      w.send({ cmd: 'stats' });
      return (await once(w, 'message'))[0].stats;
    }))];
    const sum = (k) => all.reduce((n, s) => n + s[k], 0);
    process.send({ stats: { cpuMicros: sum('cpuMicros'), rss: sum('rss'), maxRssKb: sum('maxRssKb'), statements: sum('statements'), processes: all.length } });
  });
  process.send({ ready: true });
} else {
  process.on('message', (msg) => {
    if (msg.cmd === 'stats') process.send({ stats: ownStats() });
    else void onProfileCommand(msg);
  });
  startOne().then(() => process.send({ ready: true }), (err) => {
    process.stderr.write(`bench doorman failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
process.on('SIGTERM', () => {
  for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
  process.exit(0);
});
