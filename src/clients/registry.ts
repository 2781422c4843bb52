import type { Config } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { ACCOUNT_CLIENT_ID } from '../self-service/session.ts';
import { configClientEntry, type ClientEntry, type DatabaseClient } from './client-entry.ts';
import { clientTableFingerprint, listDatabaseClients } from './repository.ts';

/** A set of client ids, as the consent and offline-access policies ask it. */
export interface ClientIdSet { has(clientId: string): boolean }

/**
 * The one answer to "which apps exist, and with which settings": the config file's
 * clients, then the database's. Config clients win (a database client can never take
 * their id: service.ts refuses it) and are read-only. Answers come from memory; the
 * database part is reloaded when this process writes (`refresh`) and, for writes of other
 * processes, when the table's fingerprint changes, polled every REFRESH_MS. Polling was
 * chosen over LISTEN/NOTIFY: it needs no connection held outside the pool, works through
 * transaction-mode poolers (PgBouncer), and cannot miss a notification across a
 * reconnect. While the database is unreachable the last known list keeps serving.
 */
export interface ClientRegistry {
  /** The app with this client_id; undefined for unknown ids and for the Account page's own client. */
  get(clientId: unknown): ClientEntry | undefined;
  /** A database client with what only the database holds; undefined otherwise. */
  getDatabaseClient(clientId: unknown): DatabaseClient | undefined;
  /** Config clients in config order, then database clients by id. */
  list(): ClientEntry[];
  /** Apps whose grants need no consent page: firstParty ones, and Doorman's own Account page. */
  readonly firstParty: ClientIdSet;
  /** Reloads the database clients now (after this process changed them). */
  refresh(): Promise<void>;
  close(): void;
}

export const REFRESH_MS = 2000;

export async function openClientRegistry({ config, db, log }: { config: Config; db: Db; log: Logger }): Promise<ClientRegistry> {
  const fromConfig = new Map(config.clients.map((c) => [c.clientId, configClientEntry(c)]));
  let fromDatabase = new Map<string, DatabaseClient>();
  let fingerprint = '';
  let chain = Promise.resolve();

  // Ids already named in a warning, so a reload does not repeat it.
  const shadowedSeen = new Set<string>();
  const load = async (force: boolean) => {
    const current = await clientTableFingerprint(db);
    if (!force && current === fingerprint) return;
    const rows = await listDatabaseClients(db);
    const isShadowed = (clientId: string) => fromConfig.has(clientId) || clientId === ACCOUNT_CLIENT_ID;
    for (const { clientId } of rows.filter((c) => isShadowed(c.clientId) && !shadowedSeen.has(c.clientId))) {
      // service.ts refuses such an id, so the config file took it later: its app now holds the
      // database app's tokens, grants and consents (they name the id), which may be another app's.
      log.warn('a database app has the id of a config file app and is ignored; that config app takes over its tokens and consents. '
        + 'Delete the database app (doorman clients delete, without the config file) or give the config app another id', { clientId });
      shadowedSeen.add(clientId);
    }
    fromDatabase = new Map(rows.filter((c) => !isShadowed(c.clientId)).map((c) => [c.clientId, c]));
    fingerprint = current;
  };
  // One load at a time; a forced refresh waits for a running poll, then loads again.
  const run = (force: boolean) => {
    const next = chain.then(() => load(force));
    chain = next.catch(() => undefined);
    return next;
  };
  await run(true);
  // One warning when polls start failing (an outage would otherwise log every REFRESH_MS), one line when they work again.
  let failing = false;
  const timer = setInterval(() => {
    run(false).then(() => {
      if (failing) log.info('reloading the database clients works again');
      failing = false;
    }, (err: unknown) => {
      if (!failing) log.warn('reloading the database clients failed; the last known list stays in use', { error: err });
      failing = true;
    });
  }, REFRESH_MS);
  timer.unref();

  const get = (clientId: unknown) => (typeof clientId === 'string' ? fromConfig.get(clientId) ?? fromDatabase.get(clientId) : undefined);
  return {
    get,
    getDatabaseClient: (clientId) => (typeof clientId === 'string' ? fromDatabase.get(clientId) : undefined),
    list: () => [...fromConfig.values(), ...fromDatabase.values()],
    firstParty: { has: (clientId) => clientId === ACCOUNT_CLIENT_ID || get(clientId)?.firstParty === true },
    refresh: () => run(true),
    close: () => clearInterval(timer),
  };
}
