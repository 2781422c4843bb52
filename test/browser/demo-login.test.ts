import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DEMO_FACEBOOK_USERS, DEMO_GITHUB_USERS, DEMO_USERS, type Demo } from '../../src/demo/demo.ts';
import { ARTIFACTS_DIR, startDemoWithChromium } from '../helpers/chromium.ts';

/** What a person clicks, in a real browser. Screenshots land in test/artifacts/. */
describe('when a person uses the demo in Chromium', () => {
  let demo: Demo;
  let browser: Browser;
  let close: () => Promise<void>;
  before(async () => ({ demo, browser, close } = await startDemoWithChromium()));
  after(() => close?.());

  /** The sample app's page after sign-in; the consent page comes only while the app is not yet allowed. */
  const landInApp = async (page: Page) => {
    const allow = page.getByRole('button', { name: 'Allow' });
    await allow.or(page.getByText('Claims received')).waitFor();
    if (await allow.isVisible()) await allow.click();
    await page.getByText('Claims received').waitFor();
  };
  const subShown = async (page: Page) => (await page.locator('#sub').textContent())!;
  const startSignIn = async (upstream: string) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(demo.url);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: `Continue with ${upstream} (demo)` }).click();
    return page;
  };

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

  it('then the README linking tour works as written: Google, then GitHub and the example OIDC linked automatically, then Facebook linked after proving it with Google', async () => {
    const ada = DEMO_USERS[0]!;
    const google = await startSignIn('Google');
    assert.equal(await google.title(), 'Demo Google (look-alike)');
    await google.getByRole('button', { name: new RegExp(ada.name!) }).click();
    await landInApp(google);
    const sub = await subShown(google);

    const github = await startSignIn('GitHub');
    assert.equal(await github.title(), 'Demo GitHub (look-alike)');
    await github.getByRole('button', { name: `Sign in as ${DEMO_GITHUB_USERS[0]!.login}` }).click();
    await landInApp(github);
    assert.equal(await subShown(github), sub, 'GitHub (autoLink, verified email) joins the same account');

    const example = await startSignIn('Example OIDC');
    assert.equal(await example.title(), 'Demo OIDC provider (look-alike)');
    await example.getByRole('button', { name: ada.name! }).click();
    await landInApp(example);
    assert.equal(await subShown(example), sub, 'the example OIDC provider (autoLink, verified email) joins the same account');

    const facebook = await startSignIn('Facebook');
    assert.equal(await facebook.title(), 'Demo Facebook (look-alike)');
    await facebook.getByRole('button', { name: `Continue as ${DEMO_FACEBOOK_USERS[0]!.name}` }).click();
    await facebook.getByRole('heading', { name: 'This email already has an account' }).waitFor();
    await facebook.getByRole('button', { name: 'Continue with Google (demo)' }).click();
    await facebook.getByRole('button', { name: new RegExp(ada.name!) }).click();
    await landInApp(facebook);
    await facebook.screenshot({ path: `${ARTIFACTS_DIR}demo-tour-linked.png`, fullPage: true });
    assert.equal(await subShown(facebook), sub, 'Facebook joins the same account once proven with Google');
  });

  it('then the sample app shows the ID token and userinfo, and Refresh gets new tokens with their expiry', async () => {
    const page = await startSignIn('Google');
    await page.getByRole('button', { name: new RegExp(DEMO_USERS[1]!.name!) }).click();
    await landInApp(page);
    await page.getByRole('heading', { name: 'ID token (decoded claims)' }).waitFor();
    await page.getByRole('heading', { name: 'Userinfo' }).waitFor();
    assert.equal(await page.locator('#refreshed').count(), 0);
    const before = Date.now();
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#refreshed').waitFor();
    await page.screenshot({ path: `${ARTIFACTS_DIR}demo-refreshed.png`, fullPage: true });
    const accessExpiry = Date.parse((await page.locator('#access-expiry').textContent())!);
    assert.ok(accessExpiry > before, `the new access token expires in the future, got ${accessExpiry}`);
    assert.ok(Number.isFinite(Date.parse((await page.locator('#id-expiry').textContent())!)), 'the new ID token has an expiry');
  });
});
