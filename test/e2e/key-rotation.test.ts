import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { runKeysCommand } from '../../src/cli/keys.ts';
import { freePort } from '../../src/free-port.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { signInThrough } from '../helpers/sign-in.ts';
import { APP, startScenario, startTestDoorman, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Key rotation on a running deployment (src/keys): what apps verify with keeps working
 * across a rotation, the old key leaves the JWKS once nothing it signed can still be used,
 * and processes sharing a database switch together without a restart. Processes re-read
 * the keys every second here (keys.refreshSeconds: 1); waits are bounded, never timed.
 */

const FAST = { keys: { refreshSeconds: 1 } };

async function jwksOf(origin: string): Promise<JSONWebKeySet> {
  return (await fetch(`${origin}/jwks`)).json() as Promise<JSONWebKeySet>;
}

/** Polls `probe` until it returns a value; fails after `limitMs`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 15_000): Promise<T> {
  const until = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`not within ${limitMs} ms: ${what}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

async function currentKid(s: Scenario): Promise<string> {
  const [row] = await s.db.query<{ kid: string }>(`SELECT kid FROM "SigningKey" WHERE state = 'current'`);
  return row!.kid;
}

async function currentCookieSecret(s: Scenario): Promise<string> {
  const [row] = await s.db.query<{ secret: string }>(`SELECT secret FROM "CookieSecret" WHERE state = 'current'`);
  return row!.secret;
}

/** Which of `secrets` signed the browser's session cookie (keygrip: HMAC-SHA1 of "name=value", base64url). */
async function sessionCookieSigner(s: Scenario, browser: Browser, secrets: string[]): Promise<string | undefined> {
  const cookies = await browser.jar.getCookies(s.doorman.url);
  const value = cookies.find((c) => c.key === '_session')?.value;
  const sig = cookies.find((c) => c.key === '_session.sig')?.value;
  assert.ok(value && sig, `expected a signed session cookie, got ${cookies.map((c) => c.key).join(', ')}`);
  return secrets.find((secret) => createHmac('sha1', secret).update(`_session=${value}`).digest('base64url') === sig);
}

const kidsOf = (jwks: JSONWebKeySet) => jwks.keys.map((k) => k.kid);
const origin = (s: Scenario) => `http://127.0.0.1:${s.doorman.port}`;
const rotate = (s: Scenario) => runKeysCommand(s.doorman.db, s.doorman.config, ['rotate'], () => {});

describe('when the signing key is rotated', () => {
  it('then an ID token signed before the rotation still verifies with the JWKS published after it, and new ID tokens carry the new kid', async () => {
    const s = await startScenario({ client: { firstParty: true }, config: FAST });
    try {
      const rp = await discoverDoorman(s.doorman.url);
      const before = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.id_token!;
      const oldKid = decodeProtectedHeader(before).kid!;
      const beforeJwks = await jwksOf(origin(s));
      assert.equal(kidsOf(beforeJwks)[0], oldKid, 'the current key is published first');
      assert.equal(beforeJwks.keys.length, 2, 'current and next are published');
      const upcoming = kidsOf(beforeJwks)[1];

      assert.equal(await rotate(s), 0);
      const newKid = await currentKid(s);
      assert.equal(newKid, upcoming, 'the published next key became current');
      const after = await eventually('the JWKS leads with the new key', async () => {
        const jwks = await jwksOf(origin(s));
        return kidsOf(jwks)[0] === newKid ? jwks : undefined;
      });
      assert.ok(kidsOf(after).includes(oldKid), 'the previous key is still published');
      const { payload } = await jwtVerify(before, createLocalJWKSet(after), { issuer: s.doorman.url, audience: APP.clientId });
      assert.ok(payload.sub);

      const fresh = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.id_token!;
      assert.equal(decodeProtectedHeader(fresh).kid, newKid);
      await jwtVerify(fresh, createLocalJWKSet(after), { issuer: s.doorman.url, audience: APP.clientId });
    } finally {
      await s.close();
    }
  });

  it('then cookies are signed with the new cookie secret, and cookies signed with the old one still hold the session', async () => {
    const s = await startScenario({ client: { firstParty: true }, config: FAST });
    try {
      const rp = await discoverDoorman(s.doorman.url);
      const before = new Browser();
      await signInThrough(rp, before, 'google', ALICE.sub);
      const oldSecret = await currentCookieSecret(s);
      assert.equal(await sessionCookieSigner(s, before, [oldSecret]), oldSecret);

      const oldKid = await currentKid(s);
      assert.equal(await rotate(s), 0);
      const newSecret = await currentCookieSecret(s);
      await eventually('the rotation is taken up', async () => (kidsOf(await jwksOf(origin(s)))[0] !== oldKid ? true : undefined));

      const after = new Browser();
      await signInThrough(rp, after, 'google', ALICE.sub);
      assert.equal(await sessionCookieSigner(s, after, [oldSecret, newSecret]), newSecret);
      // The old session still signs in without the upstream (its cookie verifies with the previous secret).
      const req = await buildAuthRequest(rp);
      const back = await before.visit(req.url, APP.redirectUri);
      assert.ok(back.url.searchParams.get('code'), `expected a code without signing in again, got ${back.url.href}`);
    } finally {
      await s.close();
    }
  });

  it('then once everything the previous key signed has expired, it is no longer published and its private half is gone', async () => {
    const s = await startScenario({ config: FAST });
    try {
      const oldKid = await currentKid(s);
      assert.equal(await rotate(s), 0);
      await eventually('the rotation is published', async () => (kidsOf(await jwksOf(origin(s)))[0] !== oldKid ? true : undefined));
      assert.ok(kidsOf(await jwksOf(origin(s))).includes(oldKid));
      // As if the overlap (the longest token or session lifetime) had passed since the rotation.
      await s.db.query(`UPDATE "SigningKey" SET "deactivatedAt" = now() - interval '30 days' WHERE kid = $1`, [oldKid]);
      await eventually('the old key leaves the JWKS', async () => (kidsOf(await jwksOf(origin(s))).includes(oldKid) ? undefined : true));
      const [row] = await s.db.query<{ state: string; jwk: Record<string, unknown> }>(`SELECT state, jwk FROM "SigningKey" WHERE kid = $1`, [oldKid]);
      assert.equal(row!.state, 'retired');
      assert.equal(row!.jwk.d, undefined, 'no private key material is kept');
    } finally {
      await s.close();
    }
  });

  it('then, when the rotation period is over, the running process rotates by itself', async () => {
    const s = await startScenario({ config: FAST });
    try {
      const [oldKid, upcoming] = kidsOf(await jwksOf(origin(s)));
      await s.db.query(`UPDATE "SigningKey" SET "activatedAt" = now() - interval '91 days' WHERE kid = $1`, [oldKid]);
      await s.db.query(`UPDATE "CookieSecret" SET "activatedAt" = now() - interval '91 days' WHERE state = 'current'`);
      await eventually('the next key takes over', async () => (kidsOf(await jwksOf(origin(s)))[0] === upcoming ? true : undefined));
      assert.equal(await currentKid(s), upcoming);
      const states = await s.db.query<{ state: string }>(`SELECT state FROM "CookieSecret" ORDER BY "createdAt"`);
      assert.deepEqual(states.map((r) => r.state).sort(), ['current', 'next', 'previous'], 'cookie secrets rotate on the same period');
    } finally {
      await s.close();
    }
  });
});

describe('when two Doorman instances share one database and the keys are rotated', () => {
  it('then both publish the same JWKS and sign with the new kid within the refresh interval, and sessions keep working', async () => {
    const s = await startScenario({ client: { firstParty: true }, config: FAST });
    const cfg = s.doorman.config;
    const second = await startTestDoorman(s.db.url, {
      ...FAST,
      issuer: cfg.issuer,
      clients: cfg.clients.map(({ clientSecret: _, ...c }) => c),
      upstreams: cfg.upstreams.map(({ clientSecret: _, ...u }) => u),
    }, { WIKI_SECRET: APP.clientSecret, GOOGLE_SECRET: cfg.upstreams[0]!.clientSecret }, await freePort());
    const secondOrigin = `http://127.0.0.1:${second.port}`;
    try {
      // A person signed in before the rotation, through the first instance.
      const browser = new Browser();
      const rp = await discoverDoorman(s.doorman.url);
      await signInThrough(rp, browser, 'google', ALICE.sub);

      assert.equal(await rotate(s), 0);
      const newKid = await currentKid(s);
      const [a, b] = await eventually('both instances publish the new key first', async () => {
        const both = await Promise.all([jwksOf(origin(s)), jwksOf(secondOrigin)]);
        return both.every((j) => kidsOf(j)[0] === newKid) ? both : undefined;
      });
      assert.deepEqual(a, b);

      // The same person, same browser, now served entirely by the second instance: its
      // session cookie (signed with the old secret) still holds, so no login page, and the
      // ID token is signed with the new key.
      const issuerOrigin = new URL(s.doorman.url).origin;
      const toSecond = (url: URL) => (url.origin === issuerOrigin ? new URL(url.href.replace(issuerOrigin, secondOrigin)) : url);
      browser.rewrite = toSecond;
      const rpOnSecond = await discoverDoorman(s.doorman.url);
      rpOnSecond[oidc.customFetch] = (url, init) => fetch(toSecond(new URL(url)), init as RequestInit);
      const req = await buildAuthRequest(rpOnSecond);
      const back = await browser.visit(req.url, APP.redirectUri);
      assert.ok(back.url.searchParams.get('code'), `expected a code without signing in again, got ${back.url.href}`);
      const viaSecond = (await redeemCode(rpOnSecond, back.url, req)).id_token!;
      assert.equal(decodeProtectedHeader(viaSecond).kid, newKid);
      const viaFirst = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.id_token!;
      assert.equal(decodeProtectedHeader(viaFirst).kid, newKid);
    } finally {
      await second.close();
      await s.close();
    }
  });
});

for (const alg of ['ES256', 'EdDSA'] as const) {
  describe(`when keys.algorithm is ${alg}`, () => {
    it(`then discovery advertises it and openid-client accepts ID tokens signed with ${alg}`, async () => {
      const s = await startScenario({ client: { firstParty: true }, config: { keys: { algorithm: alg } } });
      try {
        const discovery = await (await fetch(`${origin(s)}/.well-known/openid-configuration`)).json() as { id_token_signing_alg_values_supported: string[] };
        assert.ok(discovery.id_token_signing_alg_values_supported.includes(alg));
        // The app registers the alg it expects; openid-client then refuses any other.
        const rp = await oidc.discovery(new URL(s.doorman.url), APP.clientId, { id_token_signed_response_alg: alg },
          oidc.ClientSecretBasic(APP.clientSecret), { execute: [oidc.allowInsecureRequests] });
        const { tokens } = await signInThrough(rp, new Browser(), 'google', ALICE.sub);
        assert.equal(decodeProtectedHeader(tokens.id_token!).alg, alg);
        await jwtVerify(tokens.id_token!, createLocalJWKSet(await jwksOf(origin(s))), { issuer: s.doorman.url, audience: APP.clientId, algorithms: [alg] });
        assert.ok((await jwksOf(origin(s))).keys.every((k) => k.alg === alg));
      } finally {
        await s.close();
      }
    });
  });
}

describe('when keys.algorithm changes on an existing deployment', () => {
  it('then at the next start a key of the new algorithm signs at once and the old key stays published', async () => {
    const s = await startScenario({ client: { firstParty: true } });
    const cfg = s.doorman.config;
    try {
      const rsaKid = await currentKid(s);
      await s.doorman.close();
      const restarted = await startTestDoorman(s.db.url, {
        keys: { algorithm: 'ES256' },
        issuer: cfg.issuer,
        clients: cfg.clients.map(({ clientSecret: _, ...c }) => c),
        upstreams: cfg.upstreams.map(({ clientSecret: _, ...u }) => u),
      }, { WIKI_SECRET: APP.clientSecret, GOOGLE_SECRET: cfg.upstreams[0]!.clientSecret }, s.doorman.port);
      try {
        const jwks = await jwksOf(origin(s));
        assert.equal(jwks.keys[0]!.alg, 'ES256');
        assert.ok(kidsOf(jwks).includes(rsaKid));
        const rp = await discoverDoorman(s.doorman.url);
        const { tokens } = await signInThrough(rp, new Browser(), 'google', ALICE.sub);
        assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'ES256');
      } finally {
        await restarted.close();
      }
    } finally {
      await s.close();
    }
  });
});
