import { randomBytes } from 'node:crypto';
import { setAdmin } from '../accounts/admin.ts';
import { createAccountWithIdentity, findIdentity } from '../accounts/repository.ts';
import { recordAudit } from '../audit/record.ts';
import { buildConfig } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import { DEVICE_CODE_GRANT } from '../device/grant.ts';
import { freePort } from '../free-port.ts';
import type { Logger } from '../log.ts';
import { startDoorman, type RunningDoorman } from '../server.ts';
import { startFacebookLookalike, type FacebookUser } from './facebook-lookalike.ts';
import { startGithubLookalike, type GithubUser } from './github-lookalike.ts';
import { startGoogleLookalike, type LookalikeUser } from './google-lookalike.ts';
import { startOidcLookalike, type OidcLookalikeUser } from './oidc-lookalike.ts';
import { startSampleApp } from './sample-app.ts';

/**
 * `doorman demo`: Doorman, look-alikes of Google, GitHub, Facebook, a generic OIDC and a
 * generic OAuth2 provider, and a sample app, all on this machine. Secrets are random per
 * run. Refused in production: the look-alikes sign anyone in as anyone.
 */
/**
 * The demo's people. Every look-alike knows the same two, by the same names and emails,
 * so that signing in again through another upstream as the same person shows linking
 * (README, "See a whole login: the demo"). Facebook never says an email is verified.
 */
const PEOPLE = [
  { name: 'Ada Lovelace', email: 'ada@example.com', login: 'ada' },
  { name: 'Grace Hopper', email: 'grace@example.com', login: 'grace' },
] as const;

export const DEMO_USERS: LookalikeUser[] = PEOPLE.map((p, i) => ({ sub: `10000000000000000000${i + 1}`, email: p.email, email_verified: true, name: p.name, hd: 'example.com' }));

export const DEMO_GITHUB_USERS: GithubUser[] = PEOPLE.map((p, i) => ({
  id: 1001 + i, login: p.login, name: p.name, email: null, emails: [{ email: p.email, primary: true, verified: true }],
  orgs: ['example'], teams: [{ org: 'example', slug: i === 0 ? 'engines' : 'compilers' }],
}));
export const DEMO_FACEBOOK_USERS: FacebookUser[] = PEOPLE.map((p, i) => ({ id: `1015000000000000${i + 1}`, name: p.name, email: p.email }));
export const DEMO_OIDC_USERS: OidcLookalikeUser[] = PEOPLE.map((p, i) => ({
  sub: `u-${42 + i}`, email: p.email, email_verified: true, name: p.name, preferred_username: p.login, groups: [i === 0 ? 'analysts' : 'engineers'],
}));

/** The demo's own embedded database folder, so that it never touches the data of `npm start`. */
export const DEMO_DATA_DIR = './data/demo/postgres';

export interface Demo { url: string; doorman: RunningDoorman; close(): Promise<void> }

export async function startDemo(opts: { port: number; env: Record<string, string | undefined>; log: Logger }): Promise<Demo> {
  if (opts.env.NODE_ENV === 'production') {
    throw new Error('the demo cannot run with NODE_ENV=production: its look-alike upstreams sign anyone in as anyone');
  }
  const host = 'localhost';
  const issuer = `http://${host}:${opts.port}`;
  const samplePort = await freePort();
  const secret = () => randomBytes(16).toString('hex');
  const secrets = {
    DOORMAN_DEMO_APP_SECRET: secret(), DOORMAN_DEMO_GOOGLE_SECRET: secret(), DOORMAN_DEMO_GITHUB_SECRET: secret(),
    DOORMAN_DEMO_OAUTH2_SECRET: secret(), DOORMAN_DEMO_FACEBOOK_SECRET: secret(), DOORMAN_DEMO_OIDC_SECRET: secret(),
  };
  const callback = (id: string) => `${issuer}/upstream/${id}/callback`;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const google = await startGoogleLookalike({
      clients: [{ clientId: 'doorman-demo', clientSecret: secrets.DOORMAN_DEMO_GOOGLE_SECRET, redirectUris: [callback('google')] }],
      users: DEMO_USERS,
    });
    closers.push(() => google.close());
    const github = await startGithubLookalike({
      clients: [
        { clientId: 'doorman-demo', clientSecret: secrets.DOORMAN_DEMO_GITHUB_SECRET, redirectUri: callback('github') },
        { clientId: 'doorman-demo-oauth2', clientSecret: secrets.DOORMAN_DEMO_OAUTH2_SECRET, redirectUri: callback('oauth2'), label: 'Demo OAuth2 provider (look-alike)' },
      ],
      users: DEMO_GITHUB_USERS,
    });
    closers.push(() => github.close());
    const facebook = await startFacebookLookalike({ appId: '100000000000001', appSecret: secrets.DOORMAN_DEMO_FACEBOOK_SECRET, redirectUri: callback('facebook'), users: DEMO_FACEBOOK_USERS });
    closers.push(() => facebook.close());
    const example = await startOidcLookalike({ clientId: 'doorman-demo', clientSecret: secrets.DOORMAN_DEMO_OIDC_SECRET, redirectUri: callback('oidc'), users: DEMO_OIDC_USERS });
    closers.push(() => example.close());

    const config = buildConfig({
      issuer,
      port: opts.port,
      database: { embeddedDataDir: DEMO_DATA_DIR },
      clients: [{
        clientId: 'sample-app', name: 'Sample app', clientSecretEnv: 'DOORMAN_DEMO_APP_SECRET',
        redirectUris: [`http://${host}:${samplePort}/callback`], postLogoutRedirectUris: [`http://${host}:${samplePort}/`],
      }, {
        // A command-line tool signing in with the device flow (README "Device flow").
        clientId: 'demo-cli', name: 'Demo CLI', firstParty: true, grantTypes: [DEVICE_CODE_GRANT, 'refresh_token'],
      }],
      upstreams: [
        { id: 'google', type: 'google', displayName: 'Google (demo)', clientId: 'doorman-demo', clientSecretEnv: 'DOORMAN_DEMO_GOOGLE_SECRET', issuer: google.issuer },
        { id: 'github', type: 'github', displayName: 'GitHub (demo)', clientId: 'doorman-demo', clientSecretEnv: 'DOORMAN_DEMO_GITHUB_SECRET', baseUrl: github.baseUrl, loadGroups: true, groupsPrefix: 'github:', autoLink: true },
        { id: 'facebook', type: 'facebook', displayName: 'Facebook (demo)', clientId: '100000000000001', clientSecretEnv: 'DOORMAN_DEMO_FACEBOOK_SECRET', dialogUrl: facebook.origin, graphUrl: facebook.origin },
        { id: 'oidc', type: 'oidc', displayName: 'Example OIDC (demo)', clientId: 'doorman-demo', clientSecretEnv: 'DOORMAN_DEMO_OIDC_SECRET', issuer: example.issuer, scopes: ['openid', 'email', 'profile', 'groups'], autoLink: true },
        {
          id: 'oauth2', type: 'oauth2', displayName: 'Example OAuth2 (demo)', clientId: 'doorman-demo-oauth2', clientSecretEnv: 'DOORMAN_DEMO_OAUTH2_SECRET',
          authorizationUrl: `${github.baseUrl}/login/oauth/authorize`, tokenUrl: `${github.baseUrl}/login/oauth/access_token`, userinfoUrl: `${github.baseUrl}/api/v3/user`, scopes: ['read:user'],
        },
      ],
    }, { ...opts.env, ...secrets });
    const doorman = await startDoorman(config, opts.log, host);
    closers.push(() => doorman.close());
    await makeFirstDemoUserAdmin(doorman.db);
    const app = await startSampleApp({ issuer, clientId: 'sample-app', clientSecret: secrets.DOORMAN_DEMO_APP_SECRET, port: samplePort, host });
    closers.push(() => app.close());
    return { url: app.url, doorman, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * So the admin console (/admin) can be tried at once: Ada's Google (demo) identity gets an
 * account holding the admin role before anyone signs in (her first sign-in reaches it).
 * Demo only; a real install makes its first admin with `doorman accounts grant-admin`.
 */
async function makeFirstDemoUserAdmin(db: Db): Promise<void> {
  const ada = DEMO_USERS[0]!;
  if (await findIdentity(db, 'google', ada.sub)) return;
  const accountId = await db.$transaction(async (tx) => {
    const id = await createAccountWithIdentity(tx, {
      connectorId: 'google', subject: ada.sub, email: ada.email, emailVerified: true, name: ada.name, groups: [], raw: {},
    }, new Date());
    await recordAudit(tx, { type: 'account.created', accountId: id, provider: 'google', subject: ada.sub, actor: 'demo' });
    return id;
  });
  await setAdmin(db, accountId, true, 'demo');
}
