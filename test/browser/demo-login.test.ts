import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { DEMO_USERS, type Demo } from '../../src/demo/demo.ts';
import { ARTIFACTS_DIR, startDemoWithChromium } from '../helpers/chromium.ts';

/** What a person clicks, in a real browser. Screenshots land in test/artifacts/. */
describe('when a person uses the demo in Chromium', () => {
  let demo: Demo;
  let browser: Browser;
  let close: () => Promise<void>;
  before(async () => ({ demo, browser, close } = await startDemoWithChromium()));
  after(() => close?.());

  it('then clicking through sign-in, the look-alike Google and consent lands in the app with the claims', async () => {
    const page = await browser.newPage();
    await page.goto(demo.url);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sign in to Sample app' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}login-page.png` });
    await page.getByRole('button', { name: 'Continue with Google (demo)' }).click();
    await page.getByRole('button', { name: new RegExp(DEMO_USERS[1]!.name!) }).click();
    await page.getByRole('heading', { name: /Sample app wants to access your account/ }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}consent-page.png` });
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByText('Claims received').waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}signed-in.png` });
    const text = await page.textContent('body');
    assert.match(text!, /grace@example\.com/);
    assert.match(text!, /Grace Hopper/);
    assert.equal(new URL(page.url()).href, demo.url);
  });

  it('then cancelling at Google shows a readable page whose link leads back to the sign-in options', async () => {
    const page = await browser.newPage();
    await page.goto(new URL('/login', demo.url).href);
    await page.getByRole('button', { name: 'Continue with Google (demo)' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Sign-in cancelled' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}cancelled-page.png` });
    await page.getByRole('link', { name: 'Back to sign-in options' }).click();
    await page.getByRole('button', { name: 'Continue with Google (demo)' }).waitFor();
  });
});
