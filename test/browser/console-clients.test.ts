import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DEMO_USERS, type Demo } from '../../src/demo/demo.ts';
import { assertAccessible } from '../helpers/axe.ts';
import { ARTIFACTS_DIR, signInToDemoConsole, startDemoWithChromium } from '../helpers/chromium.ts';

/**
 * The console's Apps pages in Chromium, on the demo (Ada is an admin): an app is created,
 * its secret rotated, the app deleted, and bad input answered on the page. axe-core checks
 * each page; screenshots in test/artifacts/.
 */
const ADA = DEMO_USERS[0]!;

describe('when an admin manages apps in the console in Chromium', () => {
  let demo: Demo;
  let browser: Browser;
  let close: () => Promise<void>;
  before(async () => ({ demo, browser, close } = await startDemoWithChromium()));
  after(() => close?.());

  const consoleUrl = (path = '') => new URL(`/admin${path}`, demo.doorman.url).href;

  async function signInToApps(): Promise<Page> {
    const { page } = await signInToDemoConsole(browser, demo, ADA);
    await page.getByRole('link', { name: 'Apps' }).click();
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    return page;
  }
  /** Client authentication with `secret` at the revocation endpoint: 200 when it is right, 401 when not. */
  async function basicAuthStatus(clientId: string, secret: string): Promise<number> {
    const res = await fetch(new URL('/token/revocation', demo.doorman.url), {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=unknown',
    });
    await res.arrayBuffer();
    return res.status;
  }
  async function fillNewApp(page: Page, fields: { clientId: string; name: string; redirectUris: string }) {
    await page.getByLabel('Client id').fill(fields.clientId);
    await page.getByLabel('Name people see').fill(fields.name);
    await page.getByLabel('Redirect URIs, one a line', { exact: true }).fill(fields.redirectUris);
  }

  it('then an app is created, its secret shown once and rotated, and the app deleted', async () => {
    const page = await signInToApps();
    await assertAccessible(page, 'the Apps page');
    // The config file's app is listed read-only.
    await page.getByRole('row', { name: /sample-app.*config file \(read-only\)/ }).waitFor();
    await fillNewApp(page, { clientId: 'intranet', name: 'Intranet', redirectUris: 'https://intranet.example/callback\nhttp://127.0.0.1:8080/cb' });
    await page.getByLabel('First-party app: no consent page').check();
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('heading', { name: 'App created' }).waitFor();
    const secret = await page.getByLabel('Client secret').inputValue();
    assert.match(secret, /^[\w-]{43}$/);
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-client-created.png`, fullPage: true });
    await assertAccessible(page, 'the new secret page');
    assert.equal(await basicAuthStatus('intranet', secret), 200);

    await page.getByRole('link', { name: 'Done' }).click();
    await page.getByRole('heading', { name: 'App Intranet' }).waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the secret is shown again');
    assert.equal(await page.getByLabel('Redirect URIs, one a line', { exact: true }).inputValue(), 'https://intranet.example/callback\nhttp://127.0.0.1:8080/cb');
    await assertAccessible(page, 'an app\'s page');
    // The list with both kinds of app, its first screenful small enough for the README (docs/console-apps.png).
    await page.getByRole('link', { name: 'Back to apps' }).click();
    await page.getByRole('row', { name: /intranet.*database/ }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-apps-top.png` });
    // `?notice=` names one of the pages' own notices, never something of Object.prototype.
    await page.goto(consoleUrl('/clients?notice=constructor'));
    assert.equal(await page.getByRole('status').count(), 0);
    await page.goto(consoleUrl('/clients/intranet'));

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('heading', { name: 'Rotate this app\'s secret?' }).waitFor();
    await assertAccessible(page, 'the rotate confirmation');
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('heading', { name: 'Secret rotated' }).waitFor();
    const rotated = await page.getByLabel('Client secret').inputValue();
    assert.notEqual(rotated, secret);
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-client-rotated.png`, fullPage: true });
    assert.equal(await basicAuthStatus('intranet', rotated), 200);
    assert.equal(await basicAuthStatus('intranet', secret), 401);

    await page.goto(consoleUrl('/clients/intranet'));
    await page.getByRole('button', { name: 'Delete app' }).click();
    await page.getByRole('heading', { name: 'Delete this app?' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-client-delete-confirm.png`, fullPage: true });
    await page.getByRole('button', { name: 'Delete app' }).click();
    await page.getByText('The app was deleted').waitFor();
    assert.equal(await page.getByRole('row', { name: /intranet/ }).count(), 0);
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-client-deleted.png`, fullPage: true });
    assert.equal(await basicAuthStatus('intranet', rotated), 401);
    await page.context().close();
  });

  it('then bad input is answered on the page, keeps what was typed, and saves nothing', async () => {
    const page = await signInToApps();
    await fillNewApp(page, { clientId: 'bad app', name: '', redirectUris: 'http://evil.example/cb\nhttps://ok.example/cb#x' });
    await page.getByRole('button', { name: 'Create app' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /Nothing was saved/);
    assert.match(text, /the client id is 1 to 100 letters/);
    assert.match(text, /the name is required/);
    assert.match(text, /plain http is allowed only for loopback hosts/);
    assert.match(text, /must not contain a fragment/);
    assert.equal(await page.getByLabel('Client id').inputValue(), 'bad app');
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-client-bad-input.png`, fullPage: true });
    await assertAccessible(page, 'the Apps page with problems');
    assert.equal(await demo.doorman.db.oidcClient.count(), 0);

    // An app of the config file cannot take a new one's id, and its page has no form.
    await fillNewApp(page, { clientId: 'sample-app', name: 'Impostor', redirectUris: 'https://impostor.example/cb' });
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('alert').getByText(/is a client of the config file/).waitFor();
    await page.goto(consoleUrl('/clients/sample-app'));
    await page.getByText('the config file: read-only here').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save' }).count(), 0);
    await assertAccessible(page, 'a config-file app\'s page');
    const unknown = await page.goto(consoleUrl('/clients/no-such-app'));
    assert.equal(unknown!.status(), 404);
    assert.equal(await demo.doorman.db.oidcClient.count(), 0);

    // The edit form: bad input is answered on the page and the app stays as it was.
    await page.goto(consoleUrl('/clients'));
    await fillNewApp(page, { clientId: 'editme', name: 'Edit Me', redirectUris: 'https://editme.example/cb' });
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.getByRole('link', { name: 'Done' }).click();
    await page.getByLabel('Name people see').fill('   ');
    await page.getByLabel('Redirect URIs, one a line', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Save' }).click();
    const problems = await page.getByRole('alert').innerText();
    assert.match(problems, /the name is required/);
    assert.match(problems, /at least one redirect URI is required/);
    await assertAccessible(page, 'an app\'s page with problems');
    const row = await demo.doorman.db.oidcClient.findUniqueOrThrow({ where: { clientId: 'editme' } });
    assert.deepEqual([row.name, row.redirectUris], ['Edit Me', ['https://editme.example/cb']]);
    // A destructive action without the console's CSRF token is refused, even with confirm=yes.
    const forged = await page.request.post(consoleUrl('/clients/editme/delete'), { form: { confirm: 'yes' }, maxRedirects: 0 });
    assert.equal(forged.status(), 403);
    assert.equal(await demo.doorman.db.oidcClient.count({ where: { clientId: 'editme' } }), 1);
    // What the form's maxlength stops in a browser, sent anyway: refused with words, nothing written.
    const csrf = await page.locator('input[name="csrf"]').first().getAttribute('value');
    const long = await page.request.post(consoleUrl('/clients'), { form: { csrf: csrf!, clientId: 'a'.repeat(101), name: 'n'.repeat(101), redirectUris: `https://long.example/${'p'.repeat(2000)}` } });
    assert.equal(long.status(), 400);
    const longPage = await long.text();
    for (const message of [/the client id is 1 to 100/, /the name is at most 100 characters/, /a URI is at most 2000 characters/]) assert.match(longPage, message);
    assert.equal(await demo.doorman.db.oidcClient.count(), 1);
    const unknownAction = await page.goto(consoleUrl('/clients/editme/confirm?action=drop'));
    assert.equal(unknownAction!.status(), 404);
    await page.context().close();
  });
});
