import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { ALICE } from '../fakes/fake-google.ts';
import { checkPage } from '../helpers/axe.ts';
import { ARTIFACTS_DIR, launchChromium } from '../helpers/chromium.ts';
import { deviceError, pollDevice, TV } from '../helpers/device.ts';
import { discoverDoorman } from '../helpers/rp.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * The device flow with a person at a real browser: openid-client's device grant on the
 * TV's side, headless Chromium typing the code into Doorman's /device page. Each of the
 * device pages passes axe (helpers/axe.ts) at desktop and phone widths.
 */
describe('when a person connects a TV app from a real browser', () => {
  let s: Scenario;
  let chromium: Browser;
  let tv: oidc.Configuration;
  before(async () => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    s = await startScenario({ moreClients: [TV] });
    chromium = await launchChromium();
    tv = await discoverDoorman(s.doorman.url, TV);
  });
  after(async () => {
    await chromium?.close();
    await s?.close();
  });

  const typeCode = async (page: Page, userCode: string) => {
    await page.getByLabel('Code from your device').fill(userCode);
    await page.getByRole('button', { name: 'Continue', exact: true }).click();
  };

  it('then typing the code, confirming and signing in gives the TV its tokens, and every page on the way passes axe', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid profile' });
    const tokens = pollDevice(tv, started);
    const page = await (await chromium.newContext()).newPage();
    await page.goto(started.verification_uri);
    await page.getByRole('heading', { name: 'Connect a device' }).waitFor();
    await checkPage(page, 'device-code');

    await typeCode(page, started.user_code);
    await page.getByRole('heading', { name: 'Sign in to Lobby TV on your device?' }).waitFor();
    assert.equal(await page.getByText(started.user_code, { exact: true }).count(), 1, 'the code to compare is shown');
    await checkPage(page, 'device-confirm');

    await page.getByRole('button', { name: 'Continue', exact: true }).click();
    await page.getByRole('button', { name: /^Continue with Google/ }).click();
    await page.getByRole('button', { name: new RegExp(ALICE.name!) }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('heading', { name: 'Your device is signed in' }).waitFor();
    await checkPage(page, 'device-done');

    const result = await tokens;
    assert.equal((await oidc.fetchUserInfo(tv, result.access_token, result.claims()!.sub)).name, ALICE.name);
  });

  it('then a wrong code is announced next to the field, and denying tells the TV access_denied', async () => {
    const started = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid' });
    const outcome = deviceError(pollDevice(tv, started));
    const page = await (await chromium.newContext({ locale: 'fr-FR' })).newPage();
    await page.goto(started.verification_uri);
    await page.getByLabel('Code de votre appareil').fill('BCDF-BCDF');
    await page.getByRole('button', { name: 'Continuer', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Ce code n\'est pas valide' }).waitFor();
    assert.equal(await page.getByLabel('Code de votre appareil').getAttribute('aria-invalid'), 'true');
    await checkPage(page, 'device-code-wrong');

    await page.getByLabel('Code de votre appareil').fill(started.user_code);
    await page.getByRole('button', { name: 'Continuer', exact: true }).click();
    await page.getByRole('button', { name: 'Refuser' }).click();
    await page.getByRole('status').filter({ hasText: 'Vous avez refusé l\'accès' }).waitFor();
    await checkPage(page, 'device-denied');
    assert.equal(await outcome, 'access_denied');
  });
});
