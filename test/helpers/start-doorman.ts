import { buildConfig, type Config } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { FacebookLookalike } from '../../src/demo/facebook-lookalike.ts';
import type { GithubLookalike } from '../../src/demo/github-lookalike.ts';
import type { GoogleLookalike } from '../../src/demo/google-lookalike.ts';
import type { OidcLookalike } from '../../src/demo/oidc-lookalike.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { startDoorman, type RunningDoorman } from '../../src/server.ts';
import { GOOGLE_CLIENT, startFakeGoogle } from '../fakes/fake-google.ts';
import { FACEBOOK_APP, GITHUB_CLIENT, OAUTH2_CLIENT, OIDC_CLIENT, startFakeFacebook, startFakeGithub, startFakeOidcIssuer } from '../fakes/fake-upstreams.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { freePort } from '../../src/free-port.ts';

export const APP = { clientId: 'wiki', clientSecret: 'wiki-secret-0123456789', redirectUri: 'http://127.0.0.1:4999/callback', postLogout: 'http://127.0.0.1:4999/bye' } as const;

export const testLog = createLogger(process.env.DOORMAN_TEST_LOG ? 'debug' : 'silent');

/** Starts Doorman in-process on a free loopback port, with `config` merged over a test default. */
export async function startTestDoorman(databaseUrl: string, config: ConfigInput, env: Record<string, string> = {}, port?: number, log: Logger = testLog): Promise<RunningDoorman & { config: Config }> {
  const listenPort = port ?? await freePort();
  const cfg = buildConfig({ issuer: `http://127.0.0.1:${listenPort}`, ...config, port: listenPort }, { DATABASE_URL: databaseUrl, ...env });
  const doorman = await startDoorman(cfg, log, '127.0.0.1');
  return { ...doorman, config: cfg };
}

export type ExtraUpstream = 'github' | 'facebook' | 'oidc' | 'oauth2';

export interface Scenario {
  db: TestDatabase;
  google: GoogleLookalike;
  github: GithubLookalike | undefined;
  facebook: FacebookLookalike | undefined;
  oidcIssuer: OidcLookalike | undefined;
  doorman: RunningDoorman & { config: Config };
  close(): Promise<void>;
}

/**
 * The usual arrangement: a fresh schema, the fake Google (upstream `google`), the other
 * fakes named in `with` (upstream ids `github`, `facebook`, `oidc`, and `oauth2`, a
 * generic OAuth2 upstream aimed at the GitHub fake), and Doorman with one confidential
 * client (APP). `upstreams` overrides fields of any upstream by id. `otherClients` adds
 * clients beside APP; the `clientSecret` of one reaches Doorman through the environment.
 * `config` adds other top-level keys.
 */
export async function startScenario(opts: {
  upstream?: Record<string, unknown>;
  upstreams?: Partial<Record<ExtraUpstream | 'google', Record<string, unknown>>>;
  with?: ExtraUpstream[];
  client?: Record<string, unknown>;
  otherClients?: ({ clientId: string; clientSecret?: string } & Record<string, unknown>)[];
  /** More apps beside APP; a confidential one may use clientSecretEnv WIKI_SECRET (APP's secret). */
  moreClients?: Record<string, unknown>[];
  db?: TestDatabase;
  /** Doorman's database, when not a fresh schema of the shared test server (its owner drops it). */
  databaseUrl?: string;
  /** Where Doorman logs (default: silent unless DOORMAN_TEST_LOG). */
  log?: Logger;
  /** Other top-level config keys (keys, ttl, ...). */
  config?: Record<string, unknown>;
  /** More environment variables for Doorman (secrets named by config keys). */
  env?: Record<string, string>;
} = {}): Promise<Scenario> {
  const db = opts.db ?? await createTestDatabase();
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const wanted = new Set(opts.with ?? []);
  const google = await startFakeGoogle([`${issuer}/upstream/google/callback`]);
  const github = wanted.has('github') || wanted.has('oauth2') ? await startFakeGithub(issuer) : undefined;
  const facebook = wanted.has('facebook') ? await startFakeFacebook(issuer) : undefined;
  const oidcIssuer = wanted.has('oidc') ? await startFakeOidcIssuer(issuer) : undefined;
  const over = (id: ExtraUpstream | 'google') => opts.upstreams?.[id] ?? {};
  const upstreams: Record<string, unknown>[] = [
    { id: 'google', type: 'google', clientId: GOOGLE_CLIENT.clientId, clientSecretEnv: 'GOOGLE_SECRET', issuer: google.issuer, timeoutMs: 2000, ...opts.upstream, ...over('google') },
  ];
  if (wanted.has('github')) upstreams.push({ id: 'github', type: 'github', clientId: GITHUB_CLIENT.clientId, clientSecretEnv: 'GITHUB_SECRET', baseUrl: github!.baseUrl, timeoutMs: 2000, ...over('github') });
  if (wanted.has('facebook')) upstreams.push({ id: 'facebook', type: 'facebook', clientId: FACEBOOK_APP.appId, clientSecretEnv: 'FACEBOOK_SECRET', dialogUrl: facebook!.origin, graphUrl: facebook!.origin, timeoutMs: 2000, ...over('facebook') });
  if (wanted.has('oidc')) upstreams.push({ id: 'oidc', type: 'oidc', displayName: 'Example OIDC', clientId: OIDC_CLIENT.clientId, clientSecretEnv: 'OIDC_SECRET', issuer: oidcIssuer!.issuer, scopes: ['openid', 'email', 'profile', 'groups'], timeoutMs: 2000, ...over('oidc') });
  if (wanted.has('oauth2')) {
    upstreams.push({
      id: 'oauth2', type: 'oauth2', displayName: 'Example OAuth2', clientId: OAUTH2_CLIENT.clientId, clientSecretEnv: 'OAUTH2_SECRET',
      authorizationUrl: `${github!.baseUrl}/login/oauth/authorize`, tokenUrl: `${github!.baseUrl}/login/oauth/access_token`, userinfoUrl: `${github!.baseUrl}/api/v3/user`,
      scopes: ['read:user'], timeoutMs: 2000, ...over('oauth2'),
    });
  }
  const secretEnv = (clientId: string) => `${clientId.toUpperCase().replace(/\W/g, '_')}_SECRET`;
  const otherClients = (opts.otherClients ?? []).map(({ clientSecret, ...c }) => (clientSecret ? { ...c, clientSecretEnv: secretEnv(c.clientId) } : c));
  const otherSecrets = Object.fromEntries((opts.otherClients ?? []).flatMap((c) => (c.clientSecret ? [[secretEnv(c.clientId), c.clientSecret]] : [])));
  const doorman = await startTestDoorman(opts.databaseUrl ?? db.url, {
    ...opts.config,
    // Most tests drive Doorman's login page, which its one upstream would skip;
    // test/e2e/login-choice.test.ts turns skipping on.
    ui: { skipLoginPage: false, ...(opts.config?.ui as Record<string, unknown> | undefined) },
    clients: [{
      clientId: APP.clientId, name: 'Team Wiki', clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri],
      postLogoutRedirectUris: [APP.postLogout], grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'], ...opts.client,
    }, ...otherClients, ...(opts.moreClients ?? [])],
    upstreams,
  } as ConfigInput, {
    ...opts.env,
    ...otherSecrets,
    WIKI_SECRET: APP.clientSecret, GOOGLE_SECRET: GOOGLE_CLIENT.clientSecret, GITHUB_SECRET: GITHUB_CLIENT.clientSecret,
    OAUTH2_SECRET: OAUTH2_CLIENT.clientSecret, FACEBOOK_SECRET: FACEBOOK_APP.appSecret, OIDC_SECRET: OIDC_CLIENT.clientSecret,
  }, port, opts.log);
  return {
    db, google, github, facebook, oidcIssuer, doorman,
    close: async () => {
      await doorman.close();
      await Promise.all([google.close(), github?.close(), facebook?.close(), oidcIssuer?.close()]);
      if (!opts.db) await db.drop();
    },
  };
}
