import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import pg from 'pg';
import { buildConfig } from '../src/config/load.ts';
import { connectionConfig, createDb } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { startGoogleLookalike } from '../src/demo/google-lookalike.ts';
import { createLogger } from '../src/log.ts';
import { createOidcAdapter } from '../src/oidc/adapter.ts';
import { startDoorman } from '../src/server.ts';
import { createBaselineProvider } from './baseline-provider.ts';
import { BENCH_CLIENTS, REDIRECT_URI, UPSTREAM_CLIENT, UPSTREAM_USER } from './clients.ts';
import { benchDoormanConfig } from './doorman-config.ts';
// @ts-expect-error -- plain JavaScript, shared with doorman-process.mjs
import { onProfileCommand } from './profiler.mjs';
import { createPgAdapter, PG_ADAPTER_DDL } from './pg-adapter.ts';

/**
 * One server of the benchmark, in a process of its own so its CPU and memory are its own:
 *   node --import tsx bench/server.ts <upstream|doorman|bare-prisma|bare-pg> <port> [upstreamIssuer]
 * with DATABASE_URL naming its schema. Tells the parent {ready} over IPC and answers
 * {cmd: 'stats'} with its CPU time and memory.
 */
const [kind, portArg, upstreamIssuer] = process.argv.slice(2);
const port = Number(portArg);
const issuer = `http://127.0.0.1:${port}`;
const databaseUrl = process.env.DATABASE_URL ?? '';
const log = createLogger('error');

async function start(): Promise<void> {
  switch (kind) {
    case 'upstream': {
      await startGoogleLookalike({
        clients: [{ ...UPSTREAM_CLIENT, redirectUris: [`http://127.0.0.1:${process.env.DOORMAN_PORT}/upstream/google/callback`] }],
        users: [UPSTREAM_USER], port, autoApprove: UPSTREAM_USER.sub,
      });
      return;
    }
    case 'doorman': {
      // The source under tsx, for bench:profile; `npm run bench` measures dist/ (doorman-process.mjs).
      const { input, env } = benchDoormanConfig(port, upstreamIssuer!, databaseUrl);
      await startDoorman(buildConfig(input, env), log, '127.0.0.1');
      return;
    }
    case 'bare-prisma':
    case 'bare-pg': {
      const { privateKey } = await generateKeyPair('RS256', { extractable: true });
      const jwks = { keys: [{ ...(await exportJWK(privateKey)), kid: 'bench', alg: 'RS256', use: 'sig' }] };
      let adapter;
      if (kind === 'bare-prisma') {
        await migrate(databaseUrl, log);
        adapter = createOidcAdapter(createDb(databaseUrl));
      } else {
        const pool = new pg.Pool({ ...connectionConfig(databaseUrl).pool, max: 10 });
        await pool.query(`CREATE SCHEMA IF NOT EXISTS "${connectionConfig(databaseUrl).schema}"`);
        await pool.query(PG_ADAPTER_DDL);
        adapter = createPgAdapter(pool);
      }
      const provider = createBaselineProvider(issuer, {
        adapter,
        jwks,
        clients: BENCH_CLIENTS.map((c) => ({
          client_id: c.clientId, client_secret: c.secret, redirect_uris: [REDIRECT_URI],
          grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], response_types: ['code'],
        })),
      });
      const server = provider.listen(port, '127.0.0.1');
      await once(server, 'listening');
      void (server.address() as AddressInfo);
      return;
    }
    default:
      throw new Error(`unknown server kind ${kind}`);
  }
}

// Every statement this process sends, counted where node-postgres sends it (as bench/doorman-process.mjs does).
let statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  statements++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

process.on('message', (msg: { cmd?: string; file?: string }) => {
  void onProfileCommand(msg);
  if (msg.cmd === 'stats') {
    const cpu = process.cpuUsage();
    process.send!({ stats: { cpuMicros: cpu.user + cpu.system, rss: process.memoryUsage().rss, maxRssKb: process.resourceUsage().maxRSS, statements, processes: 1 } });
  }
});

start().then(() => process.send!({ ready: true }), (err: unknown) => {
  process.stderr.write(`bench server ${kind} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

// A clean exit on SIGTERM, so --cpu-prof (profiling runs) gets to write its profile.
process.on('SIGTERM', () => process.exit(0));
