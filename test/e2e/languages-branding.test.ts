import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

const lang = (html: string) => /<html lang="([^"]+)"/.exec(html)?.[1];

describe('when pages are asked for in another language', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({ with: ['github'], client: { firstParty: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s?.close());

  it('then ui_locales=de gives a German login page, over the browser\'s French', async () => {
    const browser = new Browser();
    browser.headers['accept-language'] = 'fr';
    const page = await browser.visit((await buildAuthRequest(rp, { ui_locales: 'de' })).url);
    assert.equal(lang(page.body), 'de');
    assert.equal(page.headers.get('content-language'), 'de');
    assert.match(page.body, /Bei Team Wiki anmelden/);
    assert.match(page.body, /Weiter mit GitHub/);
    assert.match(page.body, /<title>Anmelden · Doorman<\/title>/);
  });

  it('then Accept-Language: fr gives French pages, and the error page after the upstream keeps the app\'s ui_locales', async () => {
    const browser = new Browser();
    browser.headers['accept-language'] = 'fr-CH, fr;q=0.9, en;q=0.5';
    const page = await browser.visit((await buildAuthRequest(rp)).url);
    assert.equal(lang(page.body), 'fr');
    assert.match(page.body, /Se connecter à Team Wiki/);
    const home = await browser.visit(new URL('/', s.doorman.url));
    assert.equal(lang(home.body), 'fr');
    assert.match(home.body, /Service de connexion/);

    const spanish = await browser.visit((await buildAuthRequest(rp, { ui_locales: 'es' })).url);
    const cancelled = await chooseUpstream(browser, spanish, 'google', 'cancel');
    assert.equal(cancelled.status, 403);
    assert.equal(lang(cancelled.body), 'es');
    assert.match(cancelled.body, /Inicio de sesión cancelado/);
    assert.match(cancelled.body, /Volver a las opciones de inicio de sesión/);
  });

  it('then a refused request is explained in the language asked for, with oidc-provider\'s details beneath', async () => {
    const browser = new Browser();
    const page = await browser.visit((await buildAuthRequest(rp, { ui_locales: 'fr', redirect_uri: 'https://evil.example/cb' })).url);
    assert.equal(page.status, 400);
    assert.equal(lang(page.body), 'fr');
    assert.match(page.body, /Demande de connexion refusée/);
    assert.match(page.body, /Détails : /);
  });

  it('then with nothing asked for, pages are in the default language', async () => {
    const page = await new Browser().visit((await buildAuthRequest(rp)).url);
    assert.equal(lang(page.body), 'en');
    assert.match(page.body, /Sign in to Team Wiki/);
  });
});

describe('when Doorman is branded', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({
      with: ['github', 'facebook', 'oidc'],
      client: { firstParty: true },
      upstreams: { oidc: { iconUrl: 'https://cdn.acme.example/okta.svg' } },
      config: { ui: { productName: 'Acme Sign-in', primaryColor: '#ffcc00', logoUrl: 'https://cdn.acme.example/logo.svg', faviconUrl: 'https://cdn.acme.example/favicon.ico', supportContact: 'help@acme.example', defaultLocale: 'de' } },
    });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s?.close());

  it('then pages carry its name, logo, favicon and colour, and the default language', async () => {
    const page = await new Browser().visit((await buildAuthRequest(rp)).url);
    assert.equal(lang(page.body), 'de');
    assert.match(page.body, /<title>Anmelden · Acme Sign-in<\/title>/);
    assert.match(page.body, /<link rel="icon" href="https:\/\/cdn.acme.example\/favicon.ico">/);
    assert.match(page.body, /<img class="logo" src="https:\/\/cdn.acme.example\/logo.svg" alt="Acme Sign-in">/);
    assert.match(page.body, /--primary: #ffcc00; --on-primary: #000000;/);
    assert.match(page.body, /Acme Sign-in meldet Sie/);
    assert.doesNotMatch(page.body, /Doorman/);
  });

  it('then each provider\'s button has its mark and colours, a generic one is neutral with its iconUrl', async () => {
    const page = await new Browser().visit((await buildAuthRequest(rp)).url);
    const button = (id: string) => new RegExp(`action="/interaction/[^"]+/upstream/${id}">[\\s\\S]*?</form>`).exec(page.body)?.[0] ?? '';
    assert.match(button('google'), /class="upstream brand-google"><svg class="mark"[^>]*aria-hidden="true"[\s\S]*#4285F4/);
    assert.match(button('github'), /class="upstream brand-github"><svg class="mark"/);
    assert.match(button('facebook'), /class="upstream brand-facebook"><svg class="mark"/);
    assert.match(button('oidc'), /class="upstream brand-generic"><img class="mark" src="https:\/\/cdn.acme.example\/okta.svg" alt="">/);
    assert.match(button('oidc'), /Weiter mit Example OIDC/);
  });

  it('then error pages name the support contact', async () => {
    const page = await new Browser().visit((await buildAuthRequest(rp, { redirect_uri: 'https://evil.example/cb' })).url);
    assert.match(page.body, /<a href="mailto:help@acme.example">help@acme.example<\/a>/);
  });
});
