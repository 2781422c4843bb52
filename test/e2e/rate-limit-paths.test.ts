import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.ts';
import { Browser } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { APP, startTestDoorman } from '../helpers/start-doorman.ts';
import { GOOGLE_CLIENT, startFakeGoogle } from '../fakes/fake-google.ts';
import type { GoogleLookalike } from '../../src/demo/google-lookalike.ts';
import { freePort } from '../../src/free-port.ts';

/**
 * Attack review: oidc-provider's router matches paths without regard to ASCII case and
 * with one trailing slash (lib/helpers/router.js), and so does @koa/router for Doorman's
 * own routes. A limit keyed on the exact spelling of a path would let `/TOKEN` or
 * `/token/` reach the same endpoint uncounted.
 */
const CLIENT = { clientId: 'spelled', secret: 'spelled-secret-0123456789' };
const LIMITS = {
  clientAuthFailuresPerIp: { points: 3, durationSeconds: 600 },
  clientAuthFailuresPerClient: { points: 50, durationSeconds: 600 },
  loginStartsPerIp: { points: 2, durationSeconds: 600 },
  upstreamCallbacksPerIp: { points: 2, durationSeconds: 600 },
};

let nextHost = 1;
const freshIp = () => `192.0.2.${nextHost++}`;

describe('when a rate-limited endpoint is spelled another way', () => {
  let db: TestDatabase;
  let google: GoogleLookalike;
  let doorman: Awaited<ReturnType<typeof startTestDoorman>>;
  before(async () => {
    db = await createTestDatabase();
    const port = await freePort();
    google = await startFakeGoogle([`http://127.0.0.1:${port}/upstream/google/callback`]);
    doorman = await startTestDoorman(db.url, {
      trustProxy: true, rateLimits: LIMITS,
      clients: [
        { clientId: CLIENT.clientId, clientSecretEnv: 'SPELLED_SECRET', redirectUris: [APP.redirectUri], grantTypes: ['client_credentials'] },
        { clientId: APP.clientId, clientSecretEnv: 'WIKI_SECRET', redirectUris: [APP.redirectUri] },
      ],
      upstreams: [{ id: 'google', type: 'google', clientId: GOOGLE_CLIENT.clientId, clientSecretEnv: 'GOOGLE_SECRET', issuer: google.issuer }],
    } as ConfigInput, { SPELLED_SECRET: CLIENT.secret, WIKI_SECRET: APP.clientSecret, GOOGLE_SECRET: GOOGLE_CLIENT.clientSecret }, port);
  });
  after(async () => {
    await doorman.close();
    await google.close();
    await db.drop();
  });

  const token = (path: string, secret: string, ip: string) => fetch(`${doorman.config.issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: secret }),
  });

  for (const path of ['/TOKEN', '/token/', '/Token/', '/token/INTROSPECTION', '/token/revocation/']) {
    it(`then wrong secrets sent to ${path} count, and past the limit ${path} answers 429`, async () => {
      const ip = freshIp();
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await token(path, `wrong-${i}`, ip)).status);
      assert.deepEqual(statuses.slice(3), [429, 429], `statuses ${statuses.join(' ')}: the spelling ${path} reached oidc-provider uncounted`);
      assert.equal((await token('/token', CLIENT.secret, ip)).status, 429, 'the right secret, past the limit');
    });
  }

  it('then over the limit, the right secret at /TOKEN/ is refused like at /token', async () => {
    const ip = freshIp();
    for (let i = 0; i < 3; i++) assert.equal((await token('/token', `wrong-${i}`, ip)).status, 401);
    assert.equal((await token('/TOKEN/', CLIENT.secret, ip)).status, 429);
  });

  it('then sign-in starts at /AUTH and /auth/ count as at /auth', async () => {
    await db.query('DELETE FROM "RateLimit"');
    const auth = (path: string) => new URL(`${path}?client_id=${APP.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(APP.redirectUri)}&nonce=n&state=s`, doorman.url);
    const statuses: number[] = [];
    for (const path of ['/AUTH', '/auth/', '/Auth', '/AUTH/']) statuses.push((await new Browser().request(auth(path))).status);
    assert.deepEqual(statuses.slice(2), [429, 429], `statuses ${statuses.join(' ')}`);
  });

  it('then HEAD requests, which both routers answer like GET, count as GET', async () => {
    await db.query('DELETE FROM "RateLimit"');
    const auth = new URL(`/auth?client_id=${APP.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(APP.redirectUri)}&nonce=n&state=s`, doorman.url);
    const heads: number[] = [];
    for (let i = 0; i < 3; i++) heads.push((await fetch(auth, { method: 'HEAD', redirect: 'manual' })).status);
    assert.equal(heads[2], 429, `HEAD /auth: ${heads.join(' ')}`);
    const callback = new URL('/upstream/google/callback?state=forged&code=x', doorman.url);
    const callbacks: number[] = [];
    for (let i = 0; i < 3; i++) callbacks.push((await fetch(callback, { method: 'HEAD', redirect: 'manual' })).status);
    assert.equal(callbacks[2], 429, `HEAD callback: ${callbacks.join(' ')}`);
  });

  it('then upstream callbacks and login starts spelled with a trailing slash or capitals count', async () => {
    await db.query('DELETE FROM "RateLimit"');
    const browser = new Browser();
    const statuses: number[] = [];
    for (const path of ['/upstream/google/callback/', '/upstream/google/CALLBACK', '/upstream/google/callback/', '/upstream/google/Callback/']) {
      statuses.push((await browser.request(new URL(`${path}?state=forged&code=x`, doorman.url))).status);
    }
    assert.deepEqual(statuses.slice(2), [429, 429], `callbacks: ${statuses.join(' ')}`);
    const starts: number[] = [];
    for (const path of ['/interaction/x/UPSTREAM/google', '/interaction/x/upstream/google/', '/account/LINK/google', '/Interaction/x/upstream/google']) {
      starts.push((await browser.request(new URL(path, doorman.url), { form: { csrf: 'x' } })).status);
    }
    assert.deepEqual(starts.slice(2), [429, 429], `login starts: ${starts.join(' ')}`);
  });
});
