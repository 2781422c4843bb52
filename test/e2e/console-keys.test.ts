import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { setAdmin } from '../../src/accounts/admin.ts';
import { ALICE, OUTSIDER } from '../fakes/fake-google.ts';
import { Browser, findForm } from '../helpers/browser.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * The console's Keys page (console/keys-pages.ts): rotating and retiring from a browser,
 * what changes at once in this process and within keys.refreshSeconds in another, and
 * that bad requests (no CSRF token, unknown or odd key ids, the current key) change nothing.
 * Process A re-reads keys only hourly, so anything it serves at once came from the console
 * action itself; process B (same database) re-reads every second.
 */
const jwksKids = async (origin: string) => ((await (await fetch(`${origin}/jwks`)).json()) as JSONWebKeySet).keys.map((k) => k.kid);

describe('when an admin manages the signing keys in the console', () => {
  let a: Scenario;
  let b: Scenario;
  const url = (path: string) => new URL(path, a.doorman.url);
  const currentKid = async () => (await a.doorman.db.signingKey.findFirstOrThrow({ where: { state: 'current' } })).kid;
  const keyRows = () => a.doorman.db.signingKey.findMany({ orderBy: { kid: 'asc' }, select: { kid: true, state: true } });
  const keyAudits = () => a.doorman.db.auditEvent.count({ where: { type: { in: ['keys.rotated', 'key.retired'] } } });
  /** Every process has long known the keys: made a day ago (a next key younger than two refresh intervals is not promoted). */
  const ageKeys = () => a.doorman.db.$executeRaw`UPDATE "SigningKey" SET "createdAt" = "createdAt" - interval '1 day'`;

  before(async () => {
    a = await startScenario({ client: { firstParty: true }, config: { keys: { refreshSeconds: 3600 } } });
    b = await startScenario({ db: a.db, client: { firstParty: true }, config: { keys: { refreshSeconds: 1 } } });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  /** Alice, an admin, signed in to the console at /admin/keys. */
  async function adminAtKeys() {
    const browser = new Browser();
    await chooseUpstream(browser, await browser.visit(url('/admin')), 'google', ALICE.sub, {}, 'never');
    const adminId = (await a.doorman.db.identity.findUniqueOrThrow({ where: { provider_subject: { provider: 'google', subject: ALICE.sub } } })).accountId;
    await setAdmin(a.doorman.db, adminId, true, 'test');
    const page = await browser.visit(url('/admin/keys'));
    assert.equal(page.status, 200, page.body.slice(0, 300));
    return { browser, page, adminId };
  }

  it('then rotating asks first, takes effect in this process at once and in the other within its refresh, and is audited with the admin', async () => {
    const { browser, page, adminId } = await adminAtKeys();
    await ageKeys();
    const before = await currentKid();
    assert.match(page.body, new RegExp(before));
    const confirm = await browser.visit(new URL(`/admin/keys/confirm?action=rotate`, url('/')));
    assert.equal(confirm.status, 200);
    assert.match(confirm.body, /Rotate the keys now\?/);
    assert.equal(await currentKid(), before, 'the confirmation page changed nothing');
    const done = await browser.submit(confirm, '/admin/keys/rotate');
    assert.equal(done.status, 200);
    assert.equal(done.url.pathname, '/admin/keys');
    assert.match(done.body, /The keys were rotated/);
    const after = await currentKid();
    assert.notEqual(after, before);
    // This process: the JWKS and a token issued now, without waiting for any refresh.
    assert.equal((await jwksKids(a.doorman.url))[0], after);
    const { tokens } = await signInThrough(await discoverDoorman(a.doorman.url), new Browser(), 'google', OUTSIDER.sub);
    assert.equal(decodeProtectedHeader(tokens.id_token!).kid, after);
    // The other process, within its refresh interval.
    const until = Date.now() + 10_000;
    while ((await jwksKids(b.doorman.url))[0] !== after) {
      assert.ok(Date.now() < until, 'process B did not switch within 10 s');
      await new Promise((ok) => setTimeout(ok, 100));
    }
    const audit = await a.doorman.db.auditEvent.findFirstOrThrow({ where: { type: 'keys.rotated' }, orderBy: { createdAt: 'desc' } });
    assert.equal(audit.actor, `account:${adminId}`);
    assert.deepEqual(audit.detail, { signingKid: after, previousSigningKid: before });
  });

  it('then retiring a previous key asks first, removes it from the JWKS at once, and is audited', async () => {
    const { browser, adminId } = await adminAtKeys();
    await ageKeys();
    const rotated = await browser.submit(await browser.visit(url('/admin/keys/confirm?action=rotate')), '/admin/keys/rotate');
    assert.equal(rotated.status, 200);
    const previous = (await a.doorman.db.signingKey.findFirstOrThrow({ where: { state: 'previous' }, orderBy: { deactivatedAt: 'desc' } })).kid;
    assert.ok((await jwksKids(a.doorman.url)).includes(previous));
    const confirm = await browser.visit(url(`/admin/keys/confirm?action=retire&id=${previous}`));
    assert.equal(confirm.status, 200);
    assert.match(confirm.body, new RegExp(`Key ${previous}`));
    const done = await browser.submit(confirm, `/admin/keys/${previous}/retire`);
    assert.equal(done.status, 200);
    assert.match(done.body, /The key was retired/);
    assert.ok(!(await jwksKids(a.doorman.url)).includes(previous), 'still published by this process');
    const row = await a.doorman.db.signingKey.findUniqueOrThrow({ where: { kid: previous } });
    assert.equal(row.state, 'retired');
    assert.equal((row.jwk as { d?: string }).d, undefined, 'private part kept');
    const audit = await a.doorman.db.auditEvent.findFirstOrThrow({ where: { type: 'key.retired' }, orderBy: { createdAt: 'desc' } });
    assert.equal(audit.actor, `account:${adminId}`);
    assert.deepEqual(audit.detail, { keyId: previous, kind: 'signing', was: 'previous' });
    // Retiring it again (a second tab, a replayed form) is refused and writes nothing.
    const again = await browser.submit(confirm, `/admin/keys/${previous}/retire`);
    assert.equal(again.status, 409);
    assert.match(again.body, /already retired/);
    assert.equal(await a.doorman.db.auditEvent.count({ where: { type: 'key.retired', detail: { path: ['keyId'], equals: previous } } }), 1);
  });

  it('then a second rotation before the other processes can know the new next key is refused (a double click rotates once)', async () => {
    const { browser } = await adminAtKeys();
    await ageKeys();
    const confirm = await browser.visit(url('/admin/keys/confirm?action=rotate'));
    const first = await browser.submit(confirm, '/admin/keys/rotate');
    assert.equal(first.status, 200);
    const kid = await currentKid();
    const audits = await keyAudits();
    const second = await browser.submit(confirm, '/admin/keys/rotate');
    assert.equal(second.status, 409);
    assert.match(second.body, /Not rotated: the key that would become current was made moments ago.*Try again in \d+ s/s);
    assert.equal((await browser.request(url('/admin/keys/confirm?action=rotate'))).status, 409);
    assert.equal(await currentKid(), kid);
    assert.equal(await keyAudits(), audits);
  });

  it('then two rotations sent at the same moment (a double submit, two admins) rotate once', async () => {
    const { browser } = await adminAtKeys();
    await ageKeys();
    const next = (await a.doorman.db.signingKey.findFirstOrThrow({ where: { state: 'next' } })).kid;
    const audits = await keyAudits();
    const confirm = await browser.visit(url('/admin/keys/confirm?action=rotate'));
    const answers = await Promise.all([browser.submit(confirm, '/admin/keys/rotate'), browser.submit(confirm, '/admin/keys/rotate')]);
    assert.deepEqual(answers.map((p) => p.status).sort(), [200, 409]);
    // The old next key (known to every process for a day) is current, not the one made moments ago.
    assert.equal(await currentKid(), next);
    assert.equal(await keyAudits(), audits + 1);
  });

  it('then with no next key (retired by another admin a moment before) a rotation is refused rather than making current a key nobody published', async () => {
    const { browser } = await adminAtKeys();
    await ageKeys();
    const confirm = await browser.visit(url('/admin/keys/confirm?action=rotate'));
    assert.equal(confirm.status, 200);
    const before = await currentKid();
    const audits = await keyAudits();
    // The other admin's retire (process B) lands between this admin's confirmation page and the submit.
    const next = (await a.doorman.db.signingKey.findFirstOrThrow({ where: { state: 'next' } })).kid;
    await a.doorman.db.signingKey.update({ where: { kid: next }, data: { state: 'retired' } });
    try {
      const answer = await browser.submit(confirm, '/admin/keys/rotate');
      assert.equal(answer.status, 409, answer.body.slice(0, 300));
      assert.match(answer.body, /Try again in \d+ s/);
      assert.equal(await currentKid(), before);
      assert.equal(await keyAudits(), audits);
    } finally {
      // The next key back, for the tests after this one (process B may have made another meanwhile).
      await a.doorman.db.signingKey.updateMany({ where: { state: 'next' }, data: { state: 'retired' } });
      await a.doorman.db.signingKey.update({ where: { kid: next }, data: { state: 'next' } });
    }
  });

  it('then without the CSRF token, or without confirming, nothing is rotated or retired', async () => {
    const { browser } = await adminAtKeys();
    // Old enough to rotate: what refuses below is the missing token, not the rotation guard.
    await ageKeys();
    const keys = await keyRows();
    const audits = await keyAudits();
    const form = findForm((await browser.visit(url('/admin/keys/confirm?action=rotate'))).body, '/admin/keys/rotate');
    const attempts: Record<string, string>[] = [{ confirm: 'yes' }, { confirm: 'yes', csrf: 'forged' }, { confirm: 'yes', csrf: `${form.fields.csrf}x` }];
    for (const fields of attempts) {
      const refused = await browser.request(url('/admin/keys/rotate'), { method: 'POST', form: fields });
      assert.equal(refused.status, 403, JSON.stringify(fields));
      assert.match(refused.body, /<h1>/);
    }
    const unconfirmed = await browser.request(url('/admin/keys/rotate'), { method: 'POST', form: { csrf: form.fields.csrf! } });
    assert.equal(unconfirmed.status, 303);
    assert.equal(unconfirmed.headers.get('location'), '/admin/keys/confirm?action=rotate');
    const next = keys.find((k) => k.state === 'next')!.kid;
    const retireUnconfirmed = await browser.request(url(`/admin/keys/${next}/retire`), { method: 'POST', form: { csrf: form.fields.csrf! } });
    assert.equal(retireUnconfirmed.status, 303);
    assert.deepEqual(await keyRows(), keys);
    assert.equal(await keyAudits(), audits);
  });

  it('then an unknown or odd key id, or the current key, gives a clear page and changes nothing', async () => {
    const { browser } = await adminAtKeys();
    const keys = await keyRows();
    const audits = await keyAudits();
    const next = keys.find((k) => k.state === 'next')!.kid;
    const csrf = findForm((await browser.visit(url(`/admin/keys/confirm?action=retire&id=${next}`))).body, `/admin/keys/${next}/retire`).fields.csrf!;
    for (const id of ['no-such-key', 'a%00b', 'x'.repeat(500), '%F0%9F%94%91', '..%2F..%2Fetc']) {
      // A NUL is refused before any route, for every path (400, saying so); every other id names no key (404 page).
      const nul = id.includes('%00');
      const confirm = await browser.request(url(`/admin/keys/confirm?action=retire&id=${id}`));
      assert.equal(confirm.status, nul ? 400 : 404, `confirm ${id}`);
      assert.match(confirm.body, nul ? /NUL character/ : /<h1>/);
      const post = await browser.request(url(`/admin/keys/${id}/retire`), { method: 'POST', form: { csrf, confirm: 'yes' } });
      assert.equal(post.status, nul ? 400 : 404, `retire ${id}`);
      assert.match(post.body, nul ? /NUL character/ : /<h1>/);
    }
    const current = keys.find((k) => k.state === 'current')!.kid;
    const refused = await browser.request(url(`/admin/keys/${current}/retire`), { method: 'POST', form: { csrf, confirm: 'yes' } });
    assert.equal(refused.status, 409);
    assert.match(refused.body, /The current key cannot be retired/);
    assert.equal((await browser.request(url(`/admin/keys/confirm?action=retire&id=${current}`))).status, 409);
    assert.equal((await browser.request(url('/admin/keys/confirm?action=explode'))).status, 404);
    for (const notice of ['constructor', '__proto__', 'toString', 'x'.repeat(3000)]) {
      const page = await browser.request(url(`/admin/keys?notice=${notice}`));
      assert.equal(page.status, 200, notice);
      assert.doesNotMatch(page.body, /class="notice"/);
    }
    assert.deepEqual(await keyRows(), keys);
    assert.equal(await keyAudits(), audits);
  });

  it('then a person who is not an admin gets the 403 page and cannot rotate', async () => {
    const browser = new Browser();
    const landed = await chooseUpstream(browser, await browser.visit(url('/admin/keys')), 'google', OUTSIDER.sub, {}, 'never');
    assert.equal(landed.status, 403);
    const before = await currentKid();
    const post = await browser.request(url('/admin/keys/rotate'), { method: 'POST', form: { confirm: 'yes' } });
    assert.equal(post.status, 403);
    assert.equal(await currentKid(), before);
  });
});
