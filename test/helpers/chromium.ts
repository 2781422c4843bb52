import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startDemo, type Demo } from '../../src/demo/demo.ts';
import { freePort } from '../../src/free-port.ts';
import { createTestDatabase } from './db.ts';
import { testLog } from './start-doorman.ts';

/** Debian's Chromium driven by playwright-core (never a downloaded browser; see README "Tests"). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export const ARTIFACTS_DIR = new URL('../artifacts/', import.meta.url).pathname;

/** The demo (on a fresh schema) and Chromium, for browser tests; `close` undoes both. */
export async function startDemoWithChromium(): Promise<{ demo: Demo; browser: Browser; close(): Promise<void> }> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const db = await createTestDatabase();
  const demo = await startDemo({ port: await freePort(), env: { DATABASE_URL: db.url }, log: testLog });
  const browser = await launchChromium();
  return {
    demo, browser,
    close: async () => {
      await browser.close();
      await demo.close();
      await db.drop();
    },
  };
}

/**
 * A fresh browser context (CSP bypassed only so axe-core can be injected) signed in to the demo's
 * console at /admin as `who`, through the look-alike Google; without the admin role that is the 403 page.
 */
export async function signInToDemoConsole(browser: Browser, demo: Demo, who: { name?: string }, locale?: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ bypassCSP: true, ...(locale ? { locale } : {}) });
  const page = await context.newPage();
  await page.goto(new URL('/admin', demo.doorman.url).href);
  await page.getByRole('button', { name: /Google \(demo\)/ }).click();
  await page.getByRole('button', { name: new RegExp(who.name!) }).click();
  await page.waitForURL((url) => url.pathname === '/admin');
  return { context, page };
}
