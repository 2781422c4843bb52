import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  close(): Promise<void>;
}

/**
 * Opens the database (embedded when no DATABASE_URL), migrates unless told not to,
 * builds the app and listens. `close` undoes each step in reverse order.
 */
export async function startDoorman(config: Config, log: Logger, host = '0.0.0.0'): Promise<RunningDoorman> {
  let embedded: EmbeddedDatabase | undefined;
  let db: Db | undefined;
  let server: Server | undefined;
  let app: App | undefined;
  let metricsServer: Server | undefined;
  const close = async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise((ok) => server!.close(ok));
    }
    if (metricsServer) {
      metricsServer.closeAllConnections();
      await new Promise((ok) => metricsServer!.close(ok));
    }
    app?.close();
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
    db = createDb(databaseUrl);
    app = await createApp({ config, db, log });
    server = app.provider.listen(config.port, host);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    if (config.metrics.enabled && config.metrics.port !== undefined) metricsServer = await listenForMetrics(app.metrics, config.metrics.port, host);
    log.info('doorman started', startSummary(config, { port, databaseUrl, embedded: embedded !== undefined, metricsPort: config.metrics.port }));
    return { url: config.issuer, port, app, db, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
