import { buildConfig, type Config } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { GoogleLookalike } from '../../src/demo/google-lookalike.ts';
import { createLogger } from '../../src/log.ts';
import { startDoorman, type RunningDoorman } from '../../src/server.ts';
import { GOOGLE_CLIENT, startFakeGoogle } from '../fakes/fake-google.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { freePort } from '../../src/free-port.ts';

export const APP = { clientId: 'wiki', clientSecret: 'wiki-secret-0123456789', redirectUri: 'http://127.0.0.1:4999/callback', postLogout: 'http://127.0.0.1:4999/bye' } as const;

export const testLog = createLogger(process.env.DOORMAN_TEST_LOG ? 'debug' : 'silent');

/** Starts Doorman in-process on a free loopback port, with `config` merged over a test default. */
export async function startTestDoorman(databaseUrl: string, config: ConfigInput, env: Record<string, string> = {}, port?: number): Promise<RunningDoorman & { config: Config }> {
  const listenPort = port ?? await freePort();
  const cfg = buildConfig({ issuer: `http://127.0.0.1:${listenPort}`, ...config, port: listenPort }, { DATABASE_URL: databaseUrl, ...env });
  const doorman = await startDoorman(cfg, testLog, '127.0.0.1');
  return { ...doorman, config: cfg };
}

export interface Scenario {
  db: TestDatabase;
  google: GoogleLookalike;
  doorman: RunningDoorman & { config: Config };
  close(): Promise<void>;
}

/**
 * The usual arrangement: a fresh schema, the fake Google, and Doorman with one
 * confidential client (APP) and Google as upstream `google`.
 */
export async function startScenario(opts: { upstream?: Record<string, unknown>; client?: Record<string, unknown>; db?: TestDatabase } = {}): Promise<Scenario> {
  const db = opts.db ?? await createTestDatabase();
  const port = await freePort();
  const google = await startFakeGoogle([`http://127.0.0.1:${port}/upstream/google/callback`]);
  const doorman = await startTestDoorman(db.url, {
    clients: [{
      clientId: APP.clientId, name: 'Team Wiki', clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri],
      postLogoutRedirectUris: [APP.postLogout], grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], ...opts.client,
    }],
    upstreams: [{ id: 'google', type: 'google', clientId: GOOGLE_CLIENT.clientId, clientSecretEnv: 'GOOGLE_SECRET', issuer: google.issuer, timeoutMs: 2000, ...opts.upstream }],
  } as ConfigInput, { WIKI_SECRET: APP.clientSecret, GOOGLE_SECRET: GOOGLE_CLIENT.clientSecret }, port);
  return {
    db, google, doorman,
    close: async () => {
      await doorman.close();
      await google.close();
      if (!opts.db) await db.drop();
    },
  };
}
