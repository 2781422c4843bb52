import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

let s: Scenario;
before(async () => { s = await startScenario({ client: { firstParty: true } }); });
after(async () => { await s.close(); });

it('when one person\'s first sign-ins arrive at once (two tabs, a retry), then all of them reach one new account', async () => {
  const rp = await discoverDoorman(s.doorman.url);
  const logins = await Promise.allSettled(Array.from({ length: 16 }, () => signInThrough(rp, new Browser(), 'google', ALICE.sub)));
  const refused = logins.flatMap((l) => (l.status === 'rejected' ? [String(l.reason).slice(0, 200)] : []));
  assert.deepEqual(refused, [], 'a racing first sign-in was not signed in (offered a link to the account its twin had just created)');
  const subs = new Set(logins.map((l) => (l.status === 'fulfilled' ? l.value.tokens.claims()!.sub : '')));
  assert.equal(subs.size, 1);
  assert.deepEqual(await s.db.query('SELECT count(*)::int AS n FROM "Account"'), [{ n: 1 }]);
  assert.deepEqual(await s.db.query('SELECT count(*)::int AS n FROM "Identity"'), [{ n: 1 }]);
});
