import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { DEMO_USERS, type Demo } from '../../src/demo/demo.ts';
import { checkPage } from '../helpers/axe.ts';
import { ARTIFACTS_DIR, startDemoWithChromium } from '../helpers/chromium.ts';

/**
 * Every one of Doorman's pages, checked by axe-core in Chromium at a desktop and a phone
 * width (helpers/axe.ts). The device flow's pages: test/browser/device-flow.test.ts.
 */
describe('when a person uses Doorman\'s pages with assistive technology or a phone', () => {
  let demo: Demo;
  let browser: Browser;
  let close: () => Promise<void>;
  const grace = DEMO_USERS[1]!;
  before(async () => ({ demo, browser, close } = await startDemoWithChromium()));
  after(() => close?.());

  it('then the home, login, error, consent and sign-out pages pass axe at both widths and fit 360 px', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(demo.doorman.url);
    await checkPage(page, 'home');

    await page.goto(demo.url);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sign in to Sample app' }).waitFor();
    await checkPage(page, 'login');

    await page.getByRole('button', { name: 'Continue with Google (demo)' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Sign-in cancelled' }).waitFor();
    await checkPage(page, 'error');

    await page.getByRole('link', { name: 'Back to sign-in options' }).click();
    await page.getByRole('button', { name: 'Continue with Google (demo)' }).click();
    await page.getByRole('button', { name: new RegExp(grace.name!) }).click();
    await page.getByRole('heading', { name: /wants to access your account/ }).waitFor();
    await checkPage(page, 'consent');

    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByText('Claims received').waitFor();
    await page.goto(new URL('/session/end', demo.doorman.url).href);
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await checkPage(page, 'logout');
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.getByRole('heading', { name: 'Signed out' }).waitFor();
    await checkPage(page, 'logged-out');
  });

  it('then the Account page passes axe, fits 360 px, each Unlink button says which sign-in it removes, and unlinking asks first', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(new URL('/account', demo.doorman.url).href);
    await page.getByRole('button', { name: 'Continue with Google (demo)' }).click();
    await page.getByRole('button', { name: new RegExp(grace.name!) }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.getByRole('button', { name: 'Link GitHub (demo)' }).click();
    await page.getByRole('button', { name: 'Sign in as ada' }).click();
    await page.getByText('The sign-in method was linked to your account.').waitFor();
    await checkPage(page, 'account');
    assert.equal(await page.getByRole('button', { name: `Unlink Google (demo) (${grace.email})` }).count(), 1);
    assert.equal(await page.getByRole('button', { name: /^Unlink GitHub \(demo\)/ }).count(), 1);

    // Unlinking asks first; cancelling keeps the sign-in, confirming removes it.
    await page.getByRole('button', { name: /^Unlink GitHub \(demo\)/ }).click();
    await page.getByRole('heading', { name: 'Remove GitHub (demo) from your account?' }).waitFor();
    await checkPage(page, 'unlink-confirm');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.equal(await page.getByRole('button', { name: /^Unlink GitHub \(demo\)/ }).count(), 1, 'cancel removed nothing');
    await page.getByRole('button', { name: /^Unlink GitHub \(demo\)/ }).click();
    await page.getByRole('button', { name: 'Remove GitHub (demo)' }).click();
    await page.getByText('The sign-in method was removed from your account.').waitFor();
    assert.equal(await page.getByRole('button', { name: /^Unlink GitHub \(demo\)/ }).count(), 0);
  });

  it('then the keyboard focus is always visible', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(demo.url);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sign in to Sample app' }).waitFor();
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      const outline = await page.evaluate(() => {
        const style = getComputedStyle(document.activeElement!);
        return { tag: document.activeElement!.tagName, style: style.outlineStyle, width: style.outlineWidth };
      });
      assert.equal(outline.tag, 'BUTTON');
      assert.notEqual(outline.style, 'none', JSON.stringify(outline));
      assert.equal(outline.width, '3px', JSON.stringify(outline));
    }
    await page.screenshot({ path: `${ARTIFACTS_DIR}a11y-focus.png` });
  });
});
