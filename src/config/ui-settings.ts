import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { LOCALES_DIR } from '../i18n/messages.ts';
import { httpsUrl } from '../upstreams/settings.ts';

/** Languages Doorman has words for: one locales/<tag>.json each. */
function shippedLocales(): string[] {
  return readdirSync(LOCALES_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length));
}

const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;

/** The `ui` config key: what people see on Doorman's pages (README "Languages and branding"). */
export const uiSettingsSchema = z.strictObject({
  skipLoginPage: z.boolean().default(true)
    .describe('Skip the login page when there is nothing to choose: the app allows one upstream, or names one (`idp_hint`, `kc_idp_hint`, or a `login_hint` in an upstream\'s `domains`). false: always show it.'),
  defaultLocale: z.string().default('en').refine((tag) => shippedLocales().includes(tag), { message: 'no locales/<tag>.json for this language' })
    .describe('Language of the pages when neither the app (`ui_locales`) nor the browser (Accept-Language) asks for one Doorman has (en, de, fr, es; a locales/<tag>.json adds one).'),
  productName: z.string().trim().min(1).max(60).default('Doorman').describe('Name shown in page titles and text, e.g. "Acme Sign-in".'),
  logoUrl: httpsUrl.optional().describe('Image shown at the top of every page (https; about 40 px high).'),
  faviconUrl: httpsUrl.optional().describe('Favicon of the pages (https).'),
  primaryColor: z.string().regex(/^#(?:[0-9a-fA-F]{3}){1,2}$/, 'must be a CSS hex colour such as #1a73e8').default('#1d4ed8')
    .describe('Colour of primary buttons and links, as #rgb or #rrggbb. Text on it is white or black, whichever contrasts more.'),
  supportContact: z.string().trim().max(200).refine((v) => EMAIL.test(v) || /^https:\/\/\S+$/.test(v), { message: 'must be an email address or an https URL' }).optional()
    .describe('Email address or https URL shown on error pages as where to get help.'),
  templatesDir: z.string().min(1).transform((dir) => resolve(dir)).refine((dir) => statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false, { message: 'no such folder' }).optional()
    .describe('Folder of template overrides: a file there with the name of one in views/ (e.g. login.eta, partials/upstream-button.eta) is used instead of it. Start from a copy of the original; read once at start.'),
}).prefault({}).describe('What people see: languages, branding, and when the login page is skipped.');

export type UiSettings = z.infer<typeof uiSettingsSchema>;
