import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { adminLinkIdentity } from '../../src/accounts/admin.ts';
import { createAccountWithIdentity, findAccountState } from '../../src/accounts/repository.ts';
import { recordUpstreamRefusal } from '../../src/accounts/service.ts';
import { DEMO_USERS, type Demo } from '../../src/demo/demo.ts';
import { assertAccessible } from '../helpers/axe.ts';
import { ARTIFACTS_DIR, signInToDemoConsole, startDemoWithChromium } from '../helpers/chromium.ts';

/**
 * The admin console in a real browser, on the demo (whose first user, Ada, is an admin).
 * Each test arranges its own accounts; axe-core checks every console page it visits.
 * Screenshots in test/artifacts/.
 */
const ADA = DEMO_USERS[0]!;
const GRACE = DEMO_USERS[1]!;

describe('when an admin uses the console in Chromium', () => {
  let demo: Demo;
  let browser: Browser;
  let close: () => Promise<void>;
  before(async () => ({ demo, browser, close } = await startDemoWithChromium()));
  after(() => close?.());

  const consoleUrl = (path = '') => new URL(`/admin${path}`, demo.doorman.url).href;
  const db = () => demo.doorman.db;

  const signInToConsole = (who: { name?: string }) => signInToDemoConsole(browser, demo, who);

  /** An account owning one Google identity (and more upstreams if asked), arranged straight in the database. */
  async function arrangeAccount(email: string, more: { provider: string; subject: string }[] = []): Promise<{ id: string; subject: string }> {
    const subject = `sub-${randomUUID()}`;
    const id = await db().$transaction((tx) => createAccountWithIdentity(tx, { connectorId: 'google', subject, email, emailVerified: true, name: 'Test Person', groups: ['staff'], raw: {} }, new Date()));
    for (const m of more) assert.equal((await adminLinkIdentity(db(), id, m, 'test')).kind, 'done');
    return { id, subject };
  }
  const adminId = async () => (await db().identity.findUniqueOrThrow({ where: { provider_subject: { provider: 'google', subject: ADA.sub } } })).accountId;
  const csrfOf = async (page: Page) => page.locator('input[name="csrf"]').first().getAttribute('value');

  it('then a person without the admin role is refused with a 403 page', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(consoleUrl());
    await page.getByRole('button', { name: 'Continue with Google (demo)' }).click();
    const [response] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/admin' && r.request().method() === 'GET' && r.status() !== 302 && r.status() !== 303),
      page.getByRole('button', { name: new RegExp(GRACE.name!) }).click(),
    ]);
    assert.equal(response.status(), 403);
    await page.getByRole('heading', { name: 'Not an administrator' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-forbidden.png` });
    await assertAccessible(page, 'the 403 page');
    // Not even a direct account URL opens.
    const direct = await page.goto(consoleUrl(`/accounts/${await adminId()}`));
    assert.equal(direct!.status(), 403);
    await context.close();
  });

  it('then the admin signs in, finds an account by email, name and subject, and sees its page', async () => {
    const target = await arrangeAccount(`find-${randomUUID().slice(0, 8)}@example.org`, [{ provider: 'github', subject: `gh-${randomUUID()}` }]);
    const email = (await db().account.findUniqueOrThrow({ where: { id: target.id } })).email!;
    const { context, page } = await signInToConsole(ADA);
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    await assertAccessible(page, 'the search page');
    for (const query of [email, target.subject, target.id]) {
      await page.getByLabel('Email, name, upstream subject or account id').fill(query);
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('link', { name: target.id }).waitFor();
      assert.equal(await page.locator('tbody tr').count(), 1, `search for ${query}`);
    }
    await page.getByLabel('Email, name, upstream subject or account id').fill('Test Person');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: target.id }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-search.png`, fullPage: true });

    await page.getByRole('link', { name: target.id }).click();
    await page.getByRole('heading', { name: `Account ${email}` }).waitFor();
    const identities = page.locator('table[aria-labelledby="identities"] tbody tr');
    assert.equal(await identities.count(), 2);
    assert.match(await page.locator('dl').textContent() ?? '', /staff/);
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-account.png`, fullPage: true });
    await assertAccessible(page, 'the account page');
    await context.close();
  });

  it('then unlinking asks for confirmation, and the unlink is audited with the admin\'s id', async () => {
    const ghSubject = `gh-${randomUUID()}`;
    const target = await arrangeAccount('unlink@example.org', [{ provider: 'github', subject: ghSubject }]);
    const { context, page } = await signInToConsole(ADA);
    await page.goto(consoleUrl(`/accounts/${target.id}`));
    await page.locator('tr', { hasText: ghSubject }).getByRole('button', { name: /Unlink/ }).click();
    await page.getByRole('heading', { name: 'Unlink this identity?' }).waitFor();
    await assertAccessible(page, 'the confirmation page');
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-confirm-unlink.png` });
    // Nothing happens until confirmed.
    assert.equal(await db().identity.count({ where: { accountId: target.id } }), 2);
    await page.getByRole('button', { name: 'Unlink' }).click();
    await page.getByText('The identity was unlinked.').waitFor();
    assert.equal(await db().identity.count({ where: { accountId: target.id } }), 1);
    const audit = await db().auditEvent.findFirstOrThrow({ where: { accountId: target.id, type: 'identity.unlinked' } });
    assert.equal(audit.actor, `account:${await adminId()}`);
    await context.close();
  });

  it('then disabling asks for confirmation and ends the account\'s access', async () => {
    const target = await arrangeAccount('disable@example.org');
    const { context, page } = await signInToConsole(ADA);
    await page.goto(consoleUrl(`/accounts/${target.id}`));
    // A post without the confirmation (a forged or replayed form) only leads to the confirmation page.
    const unconfirmed = await context.request.post(consoleUrl(`/accounts/${target.id}/disable`), { form: { csrf: (await csrfOf(page))! }, maxRedirects: 0 });
    assert.equal(unconfirmed.status(), 303);
    assert.match(unconfirmed.headers().location!, /\/confirm\?action=disable/);
    assert.equal((await findAccountState(db(), target.id))!.disabledAt, null);
    await page.getByRole('button', { name: 'Disable account' }).click();
    await page.getByRole('heading', { name: 'Disable this account?' }).waitFor();
    assert.equal((await findAccountState(db(), target.id))!.disabledAt, null);
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByText('The account is disabled').waitFor();
    assert.notEqual((await findAccountState(db(), target.id))!.disabledAt, null);
    const audit = await db().auditEvent.findFirstOrThrow({ where: { accountId: target.id, type: 'account.disabled' } });
    assert.equal(audit.actor, `account:${await adminId()}`);
    await context.close();
  });

  it('then merging shows what moves, and only the confirmation merges', async () => {
    const survivor = await arrangeAccount('survivor@example.org');
    const retiredGh = `gh-${randomUUID()}`;
    const retired = await arrangeAccount('retired@example.org', [{ provider: 'github', subject: retiredGh }]);
    const { context, page } = await signInToConsole(ADA);
    await page.goto(consoleUrl(`/accounts/${survivor.id}`));
    await page.getByLabel('Account id to merge').fill(retired.id);
    await page.getByRole('button', { name: 'Preview merge' }).click();
    await page.getByRole('heading', { name: 'Merge accounts' }).waitFor();
    assert.match(await page.textContent('main') ?? '', new RegExp(retiredGh));
    assert.match(await page.textContent('main') ?? '', /2 identities/);
    await assertAccessible(page, 'the merge preview');
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-merge-preview.png`, fullPage: true });
    assert.equal((await findAccountState(db(), retired.id))!.retiredAt, null);
    await page.getByRole('button', { name: 'Merge' }).click();
    await page.getByText('The other account was merged into this one.').waitFor();
    assert.notEqual((await findAccountState(db(), retired.id))!.retiredAt, null);
    assert.equal(await db().identity.count({ where: { accountId: survivor.id } }), 3);
    const audit = await db().auditEvent.findFirstOrThrow({ where: { accountId: survivor.id, type: 'account.merged' } });
    assert.equal(audit.actor, `account:${await adminId()}`);
    await context.close();
  });

  it('then the audit view filters events, including those of no account, and exports them as CSV and JSON', async () => {
    const reason = `reason-${randomUUID().slice(0, 8)}`;
    await recordUpstreamRefusal(db(), 'github', reason, 'sample-app');
    const { context, page } = await signInToConsole(ADA);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await assertAccessible(page, 'the audit page');
    await page.getByLabel('Event').selectOption('login.refused');
    await page.getByLabel('Upstream').selectOption('github');
    await page.getByLabel('Reason').fill(reason);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/type=login\.refused/);
    const rows = page.locator('tbody tr');
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().textContent() ?? '', new RegExp(reason));
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-audit.png`, fullPage: true });

    const csv = await context.request.get(new URL(`/admin/audit/export?type=login.refused&reason=${reason}&format=csv`, demo.doorman.url).href);
    assert.equal(csv.status(), 200);
    assert.match(csv.headers()['content-type']!, /text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(lines[0], 'createdAt,type,actor,accountId,provider,subject,clientId,detail');
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /login\.refused,,,github,,sample-app,/);
    const json = await context.request.get(new URL(`/admin/audit/export?reason=${reason}&format=json`, demo.doorman.url).href);
    const events = await json.json() as { type: string; accountId: string | null }[];
    assert.deepEqual(events.map((e) => [e.type, e.accountId]), [['login.refused', null]]);

    // A filter that cannot be read says so on the page, and shows no events.
    const bad = await page.goto(consoleUrl('/audit?from=yesterday&type=DROP%20TABLE'));
    assert.equal(bad!.status(), 400);
    assert.match(await page.getByRole('alert').textContent() ?? '', /from: a date .*type: an event type/s);
    await context.close();
  });

  it('then bad input on each form gives a clear message on the page and writes nothing', async () => {
    const target = await arrangeAccount('bad-input@example.org');
    const { context, page } = await signInToConsole(ADA);
    await page.goto(consoleUrl(`/accounts/${target.id}`));
    const csrf = (await csrfOf(page))!;
    const post = (path: string, form: Record<string, string>) => context.request.post(consoleUrl(`/accounts/${target.id}${path}`), { form: { csrf, ...form }, maxRedirects: 0 });
    const auditBefore = await db().auditEvent.count();
    const cases: [string, Record<string, string>, number, RegExp][] = [
      ['/identities', { provider: 'github', subject: '' }, 400, /the upstream subject is required/],
      ['/identities', { provider: 'github', subject: 'x'.repeat(300) }, 400, /at most 255 characters/],
      ['/identities', { provider: 'nope', subject: 'abc' }, 400, /There is no upstream with the id nope\./],
      ['/identities', { provider: 'github', subject: 'abc', email: 'not-an-email' }, 400, /not an email address/],
      ['/email', { email: '' }, 400, /choose an email/],
      ['/email', { email: 'someone-else@example.org' }, 409, /Only an email that one of the account/],
      ['/identities/no-such-identity/unlink', { confirm: 'yes' }, 404, /That item no longer exists/],
      ['/sessions/no-such-session/revoke', {}, 404, /That item no longer exists/],
      ['/grants/no-such-grant/revoke', {}, 404, /That item no longer exists/],
      ['/consents/no-such-app/revoke', {}, 404, /That item no longer exists/],
      ['/admin', { admin: 'maybe' }, 400, /grant or revoke/],
      ['/merge', { from: '', confirm: 'yes' }, 400, /the id of the account to merge is required/],
      ['/merge', { from: target.id, confirm: 'yes' }, 409, /cannot be merged into itself/],
      ['/identities', { provider: 'github', subject: 'x'.repeat(20_000) }, 413, /Form too large/],
    ];
    for (const [path, form, status, message] of cases) {
      const res = await post(path, form);
      assert.equal(res.status(), status, `${path} ${JSON.stringify(form).slice(0, 80)}`);
      assert.match(await res.text(), message, path);
    }
    const unknownMerge = await page.goto(consoleUrl(`/accounts/${target.id}/merge?from=${randomUUID()}`));
    assert.equal(unknownMerge!.status(), 404);
    assert.match(await page.getByRole('alert').textContent() ?? '', /There is no account/);
    const unknownAccount = await page.goto(consoleUrl(`/accounts/${randomUUID()}`));
    assert.equal(unknownAccount!.status(), 404);
    const tooLong = await page.goto(consoleUrl(`?q=${'a'.repeat(300)}`));
    assert.equal(tooLong!.status(), 400);
    assert.match(await page.getByRole('alert').textContent() ?? '', /at most 200 characters/);
    assert.equal(await page.locator('tbody tr').count(), 0);

    assert.equal(await db().identity.count({ where: { accountId: target.id } }), 1);
    assert.equal(await db().auditEvent.count(), auditBefore);
    await context.close();
  });

  it('then a form posted without its CSRF token is refused with 403 and changes nothing', async () => {
    const target = await arrangeAccount('csrf@example.org');
    const { context } = await signInToConsole(ADA);
    for (const form of [{ confirm: 'yes' }, { confirm: 'yes', csrf: 'forged' }] as Record<string, string>[]) {
      const res = await context.request.post(consoleUrl(`/accounts/${target.id}/disable`), { form, maxRedirects: 0 });
      assert.equal(res.status(), 403);
      assert.match(await res.text(), /Form expired/);
    }
    assert.equal((await findAccountState(db(), target.id))!.disabledAt, null);
    await context.close();
  });
});
