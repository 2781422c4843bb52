import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO_USERS, type Demo } from '../../src/demo/demo.ts';
import { assertAccessible } from '../helpers/axe.ts';
import { ARTIFACTS_DIR, signInToDemoConsole, startDemoWithChromium } from '../helpers/chromium.ts';

/**
 * The console's operations pages (Upstreams, Keys) in Chromium on the demo, whose first
 * user, Ada, is an admin: what a person clicks, axe-core on every page, screenshots in
 * test/artifacts/console-*.png.
 */
const ADA = DEMO_USERS[0]!;
const GRACE = DEMO_USERS[1]!;

describe('when an admin runs Doorman from the console in Chromium', () => {
  let demo: Demo;
  let browser: Browser;
  let close: () => Promise<void>;
  before(async () => ({ demo, browser, close } = await startDemoWithChromium()));
  after(() => close?.());

  const consoleUrl = (path = '') => new URL(`/admin${path}`, demo.doorman.url).href;

  /** Signed in to the console as `who` (see signInToDemoConsole), then at `path`. */
  async function signIn(who: { name?: string }, path = '', locale = 'en-GB'): Promise<{ context: BrowserContext; page: Page; status: number }> {
    const { context, page } = await signInToDemoConsole(browser, demo, who, locale);
    const response = await page.goto(consoleUrl(path));
    return { context, page, status: response!.status() };
  }

  it('then the upstreams page shows each upstream\'s callback URL and its sign-ins, and passes axe', async () => {
    const { context, page } = await signIn(ADA);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Upstreams' }).click();
    await page.getByRole('heading', { name: 'Upstreams', level: 1 }).waitFor();
    const google = page.getByRole('region', { name: /Google \(demo\)/ });
    await google.getByText(`${demo.doorman.url}/upstream/google/callback`).waitFor();
    // Ada's own sign-in was noted (without the login waiting for it): reload until it shows.
    for (let i = 0; i < 50 && (await google.getByRole('row', { name: /Last hour/ }).getByRole('cell').first().textContent()) === '0'; i++) {
      await page.waitForTimeout(100);
      await page.reload();
    }
    assert.ok(Number(await google.getByRole('row', { name: /Last hour/ }).getByRole('cell').first().textContent()) >= 1, 'Ada\'s sign-in counts');
    await assertAccessible(page, 'the upstreams page');
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-upstreams.png`, fullPage: true });
    // The first screenful, small enough for the README (docs/).
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-upstreams-top.png` });
    await context.close();
  });

  it('then the keys page rotates after a confirmation and retires a previous key, and every step passes axe', async () => {
    const db = demo.doorman.db;
    const { context, page } = await signIn(ADA, '/keys');
    await page.getByRole('heading', { name: 'Signing keys' }).waitFor();
    await assertAccessible(page, 'the keys page');
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-keys.png`, fullPage: true });
    const before = (await db.signingKey.findFirstOrThrow({ where: { state: 'current' } })).kid;
    // As on a Doorman that has run a while: every process knows the next key (console/keys-pages.ts).
    await db.$executeRaw`UPDATE "SigningKey" SET "createdAt" = "createdAt" - interval '1 day'`;

    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page.getByRole('heading', { name: 'Rotate the keys now?' }).waitFor();
    await assertAccessible(page, 'the rotation confirmation');
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-keys-confirm.png` });
    assert.equal((await db.signingKey.findFirstOrThrow({ where: { state: 'current' } })).kid, before, 'nothing before confirming');
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page.getByText('The keys were rotated').waitFor();
    const after = (await db.signingKey.findFirstOrThrow({ where: { state: 'current' } })).kid;
    assert.notEqual(after, before);
    await page.getByRole('row', { name: new RegExp(after) }).getByText('current').waitFor();

    await page.getByRole('button', { name: `Retire key ${before}` }).click();
    await page.getByRole('heading', { name: 'Retire this key now?' }).waitFor();
    await assertAccessible(page, 'the retire confirmation');
    await page.getByRole('button', { name: 'Retire' }).click();
    await page.getByText('The key was retired').waitFor();
    assert.equal((await db.signingKey.findUniqueOrThrow({ where: { kid: before } })).state, 'retired');
    await context.close();
  });

  it('then a browser asking for German gets the console in German, every page of it', async () => {
    const { context, page } = await signIn(ADA, '/keys', 'de-DE');
    assert.equal(await page.locator('html').getAttribute('lang'), 'de');
    await page.getByRole('heading', { name: 'Signaturschlüssel' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Konsole' });
    for (const [link, heading] of [['Konten', 'Konten'], ['Upstreams', 'Upstreams'], ['Audit-Protokoll', 'Audit-Protokoll']] as const) {
      await nav.getByRole('link', { name: link }).click();
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await assertAccessible(page, `the German ${link} page`);
    }
    await page.getByRole('button', { name: 'Filtern' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-audit-de.png`, fullPage: true });
    await context.close();
  });

  it('then the Apps pages are in German too, with no English label left, and an app\'s name shown as typed', async () => {
    const { context, page } = await signIn(ADA, '/clients', 'de-DE');
    const main = page.locator('main');
    /** Labels of the English pages that a German page must not show. */
    const assertNoEnglish = async (labels: string[], where: string) => {
      const text = await main.innerText();
      for (const label of labels) assert.ok(!text.includes(label), `"${label}" is still English on ${where}`);
    };
    await page.getByRole('heading', { name: 'Apps', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Neue App' }).waitFor();
    await page.getByRole('row', { name: /sample-app.*Konfigurationsdatei \(schreibgeschützt\)/ }).waitFor();
    await assertNoEnglish(['Client id', 'Kept in', 'config file (read-only)', 'New app', 'Name people see', 'Redirect URIs, one a line', 'Policies', 'Grant types', 'Create app', 'required'], 'the Apps list');
    await assertAccessible(page, 'the German Apps page');
    await page.screenshot({ path: `${ARTIFACTS_DIR}console-apps-de.png`, fullPage: true });

    // Bad input: the page's words are German; the problems are the admin API's, in English (src/console/clients.ts).
    await page.getByLabel('Client-ID').fill('wiki');
    await page.getByLabel('Name, den Personen sehen').fill('<i>{product}</i> Wiki');
    await page.getByLabel('Redirect-URIs, eine pro Zeile', { exact: true }).fill('http://wiki.example/cb');
    await page.getByRole('button', { name: 'App anlegen' }).click();
    const alert = await page.getByRole('alert').innerText();
    assert.match(alert, /Nichts wurde gespeichert/);
    assert.match(alert, /plain http is allowed only for loopback hosts/);
    await page.getByLabel('Redirect-URIs, eine pro Zeile', { exact: true }).fill('https://wiki.example/cb');
    await page.getByRole('button', { name: 'App anlegen' }).click();
    await page.getByRole('heading', { name: 'App angelegt' }).waitFor();
    assert.match(await page.getByLabel('Client-Secret').inputValue(), /^[\w-]{43}$/);
    await assertNoEnglish(['Copy the secret', 'Client secret', 'Done'], 'the new secret page');

    await page.getByRole('link', { name: 'Fertig' }).click();
    // A name is text, not markup nor a placeholder: shown exactly as typed.
    await page.getByRole('heading', { name: 'App <i>{product}</i> Wiki', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Secret erneuern' }).waitFor();
    await assertNoEnglish(['Client id', 'Kind', 'Kept in', 'the database', 'Rotate secret', 'Delete app', 'Settings', 'Name people see', 'Policies', 'Save', 'Back to apps'], 'an app\'s page');
    await assertAccessible(page, 'a German app page');
    await page.getByRole('button', { name: 'App löschen' }).click();
    await page.getByRole('heading', { name: 'Diese App löschen?' }).waitFor();
    await assertNoEnglish(['Delete this app?', 'cannot be undone', 'Delete app'], 'the delete confirmation');

    await page.goto(consoleUrl('/clients/sample-app'));
    await page.getByText('der Konfigurationsdatei: hier schreibgeschützt').waitFor();
    await assertNoEnglish(['Redirect URIs', 'First-party', 'Sign-up', 'allowed', 'Grant types', 'the config file'], 'a config-file app\'s page');
    await context.close();
  });

  it('then a person without the admin role gets the 403 page on both', async () => {
    for (const path of ['/upstreams', '/keys']) {
      const { context, page, status } = await signIn(GRACE, path);
      assert.equal(status, 403);
      await page.getByRole('heading', { name: 'Not an administrator' }).waitFor();
      await assertAccessible(page, `the 403 page at ${path}`);
      await context.close();
    }
  });
});
