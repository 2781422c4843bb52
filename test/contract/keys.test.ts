import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig } from '../../src/config/load.ts';
import { createDb } from '../../src/db/client.ts';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { generateSigningJwk } from '../../src/keys/generate.ts';
import { keyPolicies } from '../../src/keys/key-ring.ts';
import { readKeys, settleKeys } from '../../src/keys/repository.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { testLog } from '../helpers/start-doorman.ts';

/** The key store on a real PostgreSQL: upgrades from single keys, and concurrent processes. */

const config = buildConfig({}, {});
const policies = keyPolicies(config, false);
const states = (keys: { state: string }[]) => keys.map((k) => k.state).sort();

describe('when a database from before key rotation is migrated', () => {
  it('then its one signing key and cookie secret stay current, and a next of each is added', async () => {
    const db = await createTestDatabase();
    const prisma = createDb(db.url, 2);
    try {
      const migrations = await readMigrations();
      const cut = migrations.findIndex((m) => m.name.endsWith('_key_rotation'));
      await migrate(db.url, testLog, migrations.slice(0, cut));
      const jwk = await generateSigningJwk('RS256');
      await db.query(`INSERT INTO "SigningKey" (kid, jwk, "createdAt") VALUES ($1, $2, now() - interval '10 days')`, [jwk.kid, jwk]);
      await db.query(`INSERT INTO "CookieSecret" (id, secret) VALUES ('c1', 'old-secret')`);
      await migrate(db.url, testLog, migrations);

      const { keys, changed } = await settleKeys(prisma, keyPolicies(config, true), new Date());
      assert.ok(changed);
      assert.deepEqual(states(keys.signing), ['current', 'next']);
      assert.equal(keys.signing.find((k) => k.state === 'current')!.id, jwk.kid, 'the key apps already know keeps signing');
      assert.equal(keys.signing.find((k) => k.state === 'current')!.alg, 'RS256');
      assert.deepEqual(states(keys.cookies), ['current', 'next']);
      assert.equal(keys.cookies.find((k) => k.state === 'current')!.secret, 'old-secret');
    } finally {
      await prisma.$disconnect();
      await db.drop();
    }
  });
});

describe('when two processes notice a due rotation at the same moment', () => {
  it('then exactly one rotation happens', async () => {
    const db = await createTestDatabase();
    const [a, b] = [createDb(db.url, 2), createDb(db.url, 2)];
    try {
      await migrate(db.url, testLog);
      await settleKeys(a, policies, new Date());
      await db.query(`UPDATE "SigningKey" SET "activatedAt" = now() - interval '91 days' WHERE state = 'current'`);
      await db.query(`UPDATE "CookieSecret" SET "activatedAt" = now() - interval '91 days' WHERE state = 'current'`);

      const results = await Promise.all([settleKeys(a, policies, new Date()), settleKeys(b, policies, new Date())]);
      assert.ok(results.some((r) => r.changed));
      const keys = await readKeys(a);
      assert.deepEqual(states(keys.signing), ['current', 'next', 'previous']);
      assert.deepEqual(states(keys.cookies), ['current', 'next', 'previous']);
    } finally {
      await Promise.all([a.$disconnect(), b.$disconnect()]);
      await db.drop();
    }
  });
});
