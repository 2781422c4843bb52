import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { chooseLocale, preferredLanguages } from '../../src/i18n/locale.ts';
import { loadMessages, REFERENCE_LOCALE } from '../../src/i18n/messages.ts';

const messages = loadMessages();
const reference = messages.catalog(REFERENCE_LOCALE);
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('when Doorman\'s words are translated (locales/*.json)', () => {
  it('then there are at least English, German, French and Spanish', () => {
    for (const tag of ['en', 'de', 'fr', 'es']) assert.ok(messages.locales.includes(tag), tag);
  });

  for (const locale of messages.locales.filter((l) => l !== REFERENCE_LOCALE)) {
    it(`then ${locale} has every key English has, no other, and the same placeholders`, () => {
      const catalog = messages.catalog(locale);
      assert.deepEqual(Object.keys(reference).filter((k) => !(k in catalog)), [], `missing in ${locale}.json`);
      assert.deepEqual(Object.keys(catalog).filter((k) => !(k in reference)), [], `unknown keys in ${locale}.json`);
      for (const [key, text] of Object.entries(reference)) {
        assert.deepEqual(placeholders(catalog[key]!), placeholders(text), `${locale}.json ${key}`);
      }
    });
  }

  it('then every key a view or the code names literally exists in English', () => {
    const sources = [
      ...readdirSync(new URL('../../views/', import.meta.url), { recursive: true }).filter((f) => String(f).endsWith('.eta')).map((f) => new URL(`../../views/${String(f)}`, import.meta.url)),
      ...readdirSync(new URL('../../src/', import.meta.url), { recursive: true }).filter((f) => String(f).endsWith('.ts')).map((f) => new URL(`../../src/${String(f)}`, import.meta.url)),
    ];
    const used = new Set<string>();
    for (const file of sources) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\bt\('([a-zA-Z_]+\.[\w.-]+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/message(?:: |Key = )'(error\.\w+)'/g)) { used.add(`${m[1]!}.title`); used.add(`${m[1]!}.text`); }
    }
    assert.ok(used.size > 40, `found only ${used.size} keys: the scan is broken`);
    assert.deepEqual([...used].filter((k) => !(k in reference)), []);
  });
});

describe('when the language of a page is chosen', () => {
  const available = ['de', 'en', 'es', 'fr'];
  const cases: [string, { uiLocales?: unknown; acceptLanguage?: string }, string][] = [
    ['ui_locales wins over Accept-Language', { uiLocales: 'de', acceptLanguage: 'fr' }, 'de'],
    ['the first ui_locales Doorman has', { uiLocales: 'ja es-MX fr' }, 'es'],
    ['Accept-Language by q', { acceptLanguage: 'ja, fr;q=0.8, de;q=0.9' }, 'de'],
    ['Accept-Language region falls back to the language', { acceptLanguage: 'fr-CA' }, 'fr'],
    ['q=0 is a refusal', { acceptLanguage: 'de;q=0, es;q=0.1' }, 'es'],
    ['nothing known: the default', { uiLocales: 'ja', acceptLanguage: 'ja, *' }, 'en'],
    ['garbage is ignored', { uiLocales: ['de'], acceptLanguage: '<script>, ;;;, de-' }, 'en'],
  ];
  for (const [name, input, expected] of cases) {
    it(`then ${name}: ${expected}`, () => assert.equal(chooseLocale(input, available, 'en'), expected));
  }

  it('then an oversized Accept-Language is cut, not parsed whole', () => {
    assert.ok(preferredLanguages(`${'xx, '.repeat(100_000)}de`).length <= 32);
  });
});
