import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DEMO_FACEBOOK_USERS, DEMO_USERS, type Demo } from '../../src/demo/demo.ts';
import { ARTIFACTS_DIR, startDemoWithChromium } from '../helpers/chromium.ts';

/**
 * The prove-ownership link in a real browser: Grace has a Google-backed account; she then
 * signs in with Facebook (same email, which Facebook does not verify), is offered the link,
 * proves it with Google, and the app sees one account. Screenshots in test/artifacts/.
 */
describe('when a person links Facebook to her account in Chromium', () => {
  let demo: Demo;
  let browser: Browser;
  let close: () => Promise<void>;
  const grace = DEMO_USERS[1]!;
  before(async () => ({ demo, browser, close } = await startDemoWithChromium()));
  after(() => close?.());

  const subShown = async (page: Page) => (await page.locator('#sub').textContent())!;

  it('then after her first sign-in with Google, with Facebook she is offered the link, proves it with Google, and the app sees the same account', async () => {
    // Arrange: her first sign-in with Google creates her account (in a browser of its own).
    const first = await (await browser.newContext()).newPage();
    await first.goto(demo.url);
    await first.getByRole('button', { name: 'Sign in' }).click();
    await first.getByRole('button', { name: 'Continue with Google (demo)' }).click();
    await first.getByRole('button', { name: new RegExp(grace.name!) }).click();
    await first.getByRole('button', { name: 'Allow' }).click();
    await first.getByText('Claims received').waitFor();
    const googleSub = await subShown(first);
    assert.ok(googleSub.trim(), 'the app got a sub');

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(demo.url);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Continue with Facebook (demo)' }).click();
    await page.getByRole('button', { name: `Continue as ${DEMO_FACEBOOK_USERS[1]!.name}` }).click();
    await page.getByRole('heading', { name: 'This email already has an account' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}link-offer.png` });
    await page.getByRole('button', { name: 'Continue with Google (demo)' }).click();
    await page.getByRole('button', { name: new RegExp(grace.name!) }).click();
    // No consent page: she allowed the sample app at her first sign-in, and that is remembered.
    await page.getByText('Claims received').waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}linked-signed-in.png` });
    assert.equal(await subShown(page), googleSub);

    await page.goto(new URL('/account', demo.doorman.url).href);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}account-page.png`, fullPage: true });
    const identities = page.locator('table').first();
    assert.equal(await identities.locator('td', { hasText: /^Facebook \(demo\)$/ }).count(), 1);
    assert.equal(await identities.locator('td', { hasText: /^Google \(demo\)$/ }).count(), 1);
    await page.getByRole('heading', { name: 'Apps you allowed' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Remove access' }).count(), 1);
  });
});
