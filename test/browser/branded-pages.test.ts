import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { ARTIFACTS_DIR, launchChromium } from '../helpers/chromium.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const LOGO = '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40"><rect width="160" height="40" rx="6" fill="#ffcc00"/><text x="12" y="27" font-family="sans-serif" font-size="18">ACME</text></svg>';

/** A branded Doorman in German, as a person's browser shows it. Screenshots in test/artifacts/. */
describe('when a branded Doorman is shown to a German-speaking person in Chromium', () => {
  let s: Scenario;
  let browser: Browser;
  before(async () => {
    s = await startScenario({
      with: ['github', 'facebook', 'oidc'],
      client: { firstParty: true },
      upstreams: { oidc: { displayName: 'Acme Okta', iconUrl: 'https://cdn.acme.example/okta.svg' } },
      config: { ui: { skipLoginPage: true, productName: 'Acme Sign-in', primaryColor: '#ffcc00', logoUrl: 'https://cdn.acme.example/logo.svg', supportContact: 'https://help.acme.example' } },
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  it('then the login page is in German with the brand, each provider\'s mark, and no serious axe violation', async () => {
    const context = await browser.newContext({ locale: 'de-DE' });
    // The brand's images come from "its CDN": served here, as the machine has no other network.
    await context.route('https://cdn.acme.example/**', (route) => route.fulfill({ status: 200, contentType: 'image/svg+xml', body: LOGO }));
    const page = await context.newPage();
    await page.goto((await buildAuthRequest(await discoverDoorman(s.doorman.url))).url.href);
    await page.getByRole('heading', { name: 'Bei Team Wiki anmelden' }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    assert.equal(await page.title(), 'Anmelden · Acme Sign-in');
    assert.equal(await page.getByRole('img', { name: 'Acme Sign-in' }).count(), 1);
    for (const name of ['Weiter mit Google', 'Weiter mit GitHub', 'Weiter mit Facebook', 'Weiter mit Acme Okta']) {
      assert.equal(await page.getByRole('button', { name }).count(), 1, name);
    }
    for (const width of [1280, 360]) {
      await page.setViewportSize({ width, height: 800 });
      await page.evaluate(AXE_SOURCE);
      const result = await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string | null }[] }> } }).axe.run());
      assert.deepEqual(result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id), [], `at ${width} px`);
      assert.ok(await page.evaluate(() => document.scrollingElement!.scrollWidth) <= width);
      await page.screenshot({ path: `${ARTIFACTS_DIR}branded-login-de-${width}.png`, fullPage: true });
    }
    await context.close();
  });

  it('then a French browser gets French pages, and an idp_hint goes straight to that upstream', async () => {
    const context = await browser.newContext({ locale: 'fr-FR' });
    const page = await context.newPage();
    await page.goto((await buildAuthRequest(await discoverDoorman(s.doorman.url))).url.href);
    await page.getByRole('button', { name: /GitHub/ }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await page.goto((await buildAuthRequest(await discoverDoorman(s.doorman.url), { idp_hint: 'github' })).url.href);
    const landed = new URL(page.url());
    assert.equal(`${landed.origin}${landed.pathname}`, `${s.github!.baseUrl}/login/oauth/authorize`, 'no login page in between');
    await context.close();
  });
});
