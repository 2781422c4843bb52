import { randomBytes } from 'node:crypto';
import { buildConfig } from '../config/load.ts';
import { freePort } from '../free-port.ts';
import type { Logger } from '../log.ts';
import { startDoorman, type RunningDoorman } from '../server.ts';
import { startGoogleLookalike, type LookalikeUser } from './google-lookalike.ts';
import { startSampleApp } from './sample-app.ts';

/**
 * `doorman demo`: Doorman, a Google look-alike upstream and a sample app, all on this
 * machine. Secrets are random per run. Refused in production: the look-alike signs anyone
 * in as anyone.
 */
export const DEMO_USERS: LookalikeUser[] = [
  { sub: '100000000000000000001', email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', hd: 'example.com' },
  { sub: '100000000000000000002', email: 'grace@example.com', email_verified: true, name: 'Grace Hopper', hd: 'example.com' },
];

export interface Demo { url: string; doorman: RunningDoorman; close(): Promise<void> }

export async function startDemo(opts: { port: number; env: Record<string, string | undefined>; log: Logger }): Promise<Demo> {
  if (opts.env.NODE_ENV === 'production') {
    throw new Error('the demo cannot run with NODE_ENV=production: its look-alike Google signs anyone in');
  }
  const host = 'localhost';
  const issuer = `http://${host}:${opts.port}`;
  const samplePort = await freePort();
  const secrets = { DOORMAN_DEMO_GOOGLE_SECRET: randomBytes(16).toString('hex'), DOORMAN_DEMO_APP_SECRET: randomBytes(16).toString('hex') };
  const google = await startGoogleLookalike({
    clients: [{ clientId: 'doorman-demo', clientSecret: secrets.DOORMAN_DEMO_GOOGLE_SECRET, redirectUris: [`${issuer}/upstream/google/callback`] }],
    users: DEMO_USERS,
  });
  const closers: (() => Promise<void>)[] = [() => google.close()];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const config = buildConfig({
      issuer,
      port: opts.port,
      clients: [{
        clientId: 'sample-app', name: 'Sample app', clientSecretEnv: 'DOORMAN_DEMO_APP_SECRET',
        redirectUris: [`http://${host}:${samplePort}/callback`], postLogoutRedirectUris: [`http://${host}:${samplePort}/`],
      }],
      upstreams: [{ id: 'google', type: 'google', displayName: 'Google (demo)', clientId: 'doorman-demo', clientSecretEnv: 'DOORMAN_DEMO_GOOGLE_SECRET', issuer: google.issuer }],
    }, { ...opts.env, ...secrets });
    const doorman = await startDoorman(config, opts.log, host);
    closers.push(() => doorman.close());
    const app = await startSampleApp({ issuer, clientId: 'sample-app', clientSecret: secrets.DOORMAN_DEMO_APP_SECRET, port: samplePort, host });
    closers.push(() => app.close());
    return { url: app.url, doorman, close };
  } catch (err) {
    await close();
    throw err;
  }
}
