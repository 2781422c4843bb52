import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig } from '../../src/config/load.ts';
import { configProblems } from '../helpers/config-problems.ts';
import { contrastRatio, pageBranding } from '../../src/http/branding.ts';

const google = { id: 'google', type: 'google', clientId: 'cid', clientSecretEnv: 'G_SECRET' };

const problems = (raw: unknown) => configProblems(raw, { G_SECRET: 'g' });

describe('when the ui and branding keys are configured', () => {
  it('then good values are accepted and the defaults are Doorman\'s', () => {
    assert.deepEqual(buildConfig({}, {}).ui, { skipLoginPage: true, defaultLocale: 'en', productName: 'Doorman', primaryColor: '#1d4ed8' });
    const ui = { productName: 'Acme Sign-in', primaryColor: '#1a73e8', logoUrl: 'https://cdn.acme.example/logo.svg', faviconUrl: 'https://cdn.acme.example/favicon.ico', supportContact: 'help@acme.example', defaultLocale: 'de' };
    assert.deepEqual(buildConfig({ ui }, {}).ui, { skipLoginPage: true, ...ui });
  });

  it('then each bad value is refused with a message naming its key', () => {
    const got = problems({
      ui: { primaryColor: 'red;}body{display:none', defaultLocale: 'xx', logoUrl: 'http://cdn.example/logo.png', supportContact: 'javascript:alert(1)', productName: '' },
      upstreams: [{ ...google, domains: ['not a domain'], iconUrl: 'data:image/png;base64,AAAA' }],
    });
    for (const key of ['ui.primaryColor', 'ui.defaultLocale', 'ui.logoUrl', 'ui.supportContact', 'ui.productName', 'upstreams[0].domains[0]', 'upstreams[0].iconUrl']) {
      assert.ok(got.some((p) => p.startsWith(`${key}:`)), `${key} in ${got.join(' | ')}`);
    }
  });

  it('then domains are kept in lower case for matching', () => {
    assert.deepEqual(buildConfig({ upstreams: [{ ...google, domains: ['Corp.Example'] }] }, { G_SECRET: 'g' }).upstreams[0]!.domains, ['corp.example']);
  });

  it('then text on the primary colour is white when that is readable (4.5:1), else black', () => {
    assert.equal(pageBranding({ primaryColor: '#1a73e8' }).onPrimary, '#ffffff');
    assert.equal(pageBranding({ primaryColor: '#ffcc00' }).onPrimary, '#000000');
    assert.ok(contrastRatio('#fff', '#000') > 20);
    assert.equal(pageBranding({ supportContact: 'help@acme.example' }).supportHref, 'mailto:help@acme.example');
    assert.equal(pageBranding({ supportContact: 'https://help.acme.example' }).supportHref, 'https://help.acme.example');
  });
});
