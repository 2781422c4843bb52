import pg from 'pg';
import type { Logger } from '../log.ts';

/**
 * Postgres NOTIFY, received in this process: one LISTEN connection per process for every
 * channel (the claims cache's account changes, the rate limits' blocked keys).
 *
 * A channel is shared by every schema of the database, so every payload starts with the
 * schema of the installation that sent it (`<schema>:`); only our own schema's messages
 * are delivered, without that prefix ({@link notify} adds it).
 *
 * What a subscriber is told: `up` once its LISTEN is in place on a live connection,
 * `down` when that connection is lost. Between the two, every message sent is delivered;
 * outside them messages may be missed, so a subscriber that keeps state from them must not
 * trust it while down and must reload it on up. The connection is retried every
 * RECONNECT_MS while anyone is subscribed, and ends when the last one leaves.
 */
export interface Notifications {
  /** Resolves once the first try to listen is over (up or not): a process starting with a reachable database starts up. */
  subscribe(channel: string, subscriber: Subscriber): Promise<Unsubscribe>;
}

export interface Subscriber {
  message(payload: string): void;
  up?(): void;
  down?(): void;
}
export type Unsubscribe = () => Promise<void>;

const RECONNECT_MS = 1000;
/** Channel names go into LISTEN as identifiers, not as parameters. */
const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Sends `payload` on `channel` to every process of this installation (the schema of `db`'s search_path). */
export async function notify(db: pg.Pool, channel: string, payload: string): Promise<void> {
  await db.query({ name: 'notify', text: 'SELECT pg_notify($1, current_schema() || \':\' || $2)', values: [channel, payload] });
}

export function openNotifications(pool: pg.Pool, log: Logger): Notifications {
  const subscribers = new Map<string, { subscriber: Subscriber; up: boolean }>();
  let client: pg.Client | undefined; // connected, schema known
  let connecting: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let prefix = '';

  const listenFor = async (c: pg.Client, channel: string) => {
    await c.query(`LISTEN ${channel}`);
    const entry = subscribers.get(channel);
    if (client !== c || !entry || entry.up) return;
    entry.up = true;
    entry.subscriber.up?.();
  };
  const lost = (c: pg.Client) => {
    if (client !== c) return;
    client = undefined;
    c.removeAllListeners('notification');
    void c.end().catch(() => {});
    for (const entry of subscribers.values()) {
      if (!entry.up) continue;
      entry.up = false;
      entry.subscriber.down?.();
    }
    retryLater();
  };
  const retryLater = () => {
    if (!retry && subscribers.size) retry = setTimeout(() => { retry = undefined; void connect(); }, RECONNECT_MS).unref();
  };
  const connect = () => connecting ??= (async () => {
    // Its own connection, with the pool's settings: LISTEN holds a session, a pooled one would be handed to others.
    const c = new pg.Client({ ...pool.options, application_name: 'doorman notifications' });
    c.on('notification', (msg) => {
      if (client !== c || !msg.payload?.startsWith(prefix)) return; // another installation in the same database
      subscribers.get(msg.channel)?.subscriber.message(msg.payload.slice(prefix.length));
    });
    c.on('error', (err) => {
      if (client !== c) return; // while connecting: the catch below says it
      log.warn('database notifications: connection lost; caches and blocked-key lists are not trusted until it is back', { error: err });
      lost(c);
    });
    c.on('end', () => lost(c));
    let attached = false;
    try {
      await c.connect();
      prefix = `${(await c.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]!.schema}:`;
      if (!subscribers.size) return void await c.end();
      client = c;
      attached = true;
      await Promise.all([...subscribers.keys()].map((channel) => listenFor(c, channel)));
    } catch (err) {
      if (attached) return lost(c); // done already if the connection broke
      c.removeAllListeners('end');
      void c.end().catch(() => {});
      log.warn('database notifications: cannot listen; caches and blocked-key lists are not trusted until it can', { error: err });
      retryLater();
    } finally {
      connecting = undefined;
    }
  })();

  return {
    async subscribe(channel, subscriber) {
      if (!CHANNEL_NAME.test(channel)) throw new Error(`not a channel name: ${channel}`);
      if (subscribers.has(channel)) throw new Error(`already subscribed to ${channel}`);
      subscribers.set(channel, { subscriber, up: false });
      if (client) await listenFor(client, channel).catch(() => {}); // a failure here is the connection's loss, handled there
      else if (!retry) await connect();
      return async () => {
        if (!subscribers.delete(channel)) return;
        const c = client;
        if (subscribers.size) return void await c?.query(`UNLISTEN ${channel}`).catch(() => {});
        clearTimeout(retry);
        retry = undefined;
        client = undefined;
        c?.removeAllListeners();
        c?.on('error', () => {});
        await c?.end().catch(() => {});
      };
    },
  };
}
