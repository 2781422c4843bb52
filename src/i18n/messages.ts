import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Doorman's words, one JSON file per language in locales/ (`de.json`: flat keys → text,
 * `{name}` placeholders). A new file is a new language: no code changes. English is the
 * reference: test/unit/messages.test.ts fails when another language lacks one of its keys.
 */
export const LOCALES_DIR = fileURLToPath(new URL('../../locales/', import.meta.url));
export const REFERENCE_LOCALE = 'en';

export type Catalog = Readonly<Record<string, string>>;
export type Translate = (key: string, vars?: Record<string, unknown>) => string;

export interface Messages {
  locales: readonly string[];
  catalog(locale: string): Catalog;
  has(key: string): boolean;
  translator(locale: string): Translate;
}

export function loadMessages(dir: string = LOCALES_DIR): Messages {
  const catalogs = new Map<string, Catalog>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const parsed = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as unknown;
    if (!parsed || typeof parsed !== 'object' || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw new Error(`${dir}/${file}: must be a JSON object of strings`);
    }
    catalogs.set(file.slice(0, -'.json'.length), Object.freeze({ ...(parsed as Record<string, string>) }));
  }
  const reference = catalogs.get(REFERENCE_LOCALE);
  if (!reference) throw new Error(`${dir}: ${REFERENCE_LOCALE}.json is missing`);
  return {
    locales: [...catalogs.keys()],
    catalog: (locale) => catalogs.get(locale) ?? reference,
    has: (key) => key in reference,
    translator(locale) {
      const catalog = catalogs.get(locale) ?? reference;
      // A key missing in one language falls back to English rather than showing the key.
      return (key, vars) => fill(catalog[key] ?? reference[key] ?? key, vars);
    },
  };
}

function fill(text: string, vars: Record<string, unknown> | undefined): string {
  return vars ? text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole)) : text;
}

let shared: Messages | undefined;
/** locales/ as shipped, read once per process. */
export function defaultMessages(): Messages {
  shared ??= loadMessages();
  return shared;
}
