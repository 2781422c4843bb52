import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createApp, type App } from './app.ts';
import type { Config } from './config/load.ts';
import { createDb, type Db } from './db/client.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded.ts';
import { migrate } from './db/migrate.ts';
import type { Logger } from './log.ts';
import { startSummary } from './config/summary.ts';
import { listenForMetrics } from './metrics/endpoint.ts';

export interface RunningDoorman {
  url: string;
  port: number;
  app: App;
  db: Db;
  /** Stops accepting connections, lets in-flight requests finish (at most `drainMs`), then closes the rest. */
  close(drainMs?: number): Promise<void>;
}

/** How long a stop waits for in-flight requests before cutting their connections. */
export const DRAIN_MS = 10_000;

/**
 * Opens the database (embedded when no DATABASE_URL), migrates unless told not to,
 * builds the app and listens on `host` (config `host` unless a caller overrides it).
 * `close` undoes each step in reverse order.
 */
export async function startDoorman(config: Config, log: Logger, host = config.host): Promise<RunningDoorman> {
  let embedded: EmbeddedDatabase | undefined;
  let db: Db | undefined;
  let server: Server | undefined;
  let app: App | undefined;
  let metricsServer: Server | undefined;
  const close = async (drainMs = 0) => {
    if (server) await drain(server, drainMs);
    if (metricsServer) {
      metricsServer.closeAllConnections();
      await new Promise((ok) => metricsServer!.close(ok));
    }
    await app?.close();
    await db?.$disconnect();
    await embedded?.stop();
  };
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres(config.database.embeddedDataDir, log);
      databaseUrl = embedded.url;
    }
    if (config.database.migrateOnStart) await migrate(databaseUrl, log);
    db = createDb(databaseUrl, config.database.poolSize, config.database.statementTimeoutMs);
    app = await createApp({ config, db, log });
    server = app.provider.listen(config.port, host);
    server.on('clientError', answerClientError(log));
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    if (config.metrics.enabled && config.metrics.port !== undefined) metricsServer = await listenForMetrics(app.metrics, config.metrics.port, host);
    log.info('doorman started', startSummary(config, { port, host, databaseUrl, embedded: embedded !== undefined, metricsPort: config.metrics.port }));
    return { url: config.issuer, port, app, db, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

/** Node's own answers to requests it could not parse (its defaults in lib/_http_server.js). */
const CLIENT_ERROR_STATUS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * A request Node cannot parse (bad request line, header or chunking) never reaches Koa:
 * answer it as Node would, and say so in the log rather than on bare stderr. The raw
 * bytes are not logged (they may hold cookies or tokens).
 */
function answerClientError(log: Logger) {
  return (err: NodeJS.ErrnoException, socket: Socket) => {
    // A client that went away is not news.
    (err.code === 'ECONNRESET' ? log.debug : log.warn)('malformed request refused', { errorCode: err.code, error: err.message });
    if (!socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${CLIENT_ERROR_STATUS[err.code ?? ''] ?? '400 Bad Request'}\r\nConnection: close\r\n\r\n`);
  };
}

/**
 * Graceful stop of an HTTP server: no new connections; idle keep-alive connections are
 * closed at once and busy ones as soon as their response is sent; whatever is still
 * running after `drainMs` is cut, so a stuck client cannot hold the stop up.
 */
async function drain(server: Server, drainMs: number): Promise<void> {
  const closed = new Promise<void>((ok) => server.close(() => ok()));
  server.closeIdleConnections();
  // A keep-alive connection whose request was in flight turns idle once answered.
  const sweeper = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = setTimeout(() => server.closeAllConnections(), drainMs);
  try {
    await closed;
  } finally {
    clearInterval(sweeper);
    clearTimeout(deadline);
  }
}
