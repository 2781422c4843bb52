import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Context } from 'koa';
import type { UiSettings } from '../config/ui-settings.ts';
import { chooseLocale } from '../i18n/locale.ts';
import { pageBranding } from './branding.ts';
import { defaultMessages, type Messages, type Translate } from '../i18n/messages.ts';

const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

/** What a page needs of the request: where to write, and what says which language to use. */
export type RenderContext = Pick<Context, 'status' | 'type' | 'body' | 'set' | 'get' | 'state' | 'query'> & { oidc?: { params?: Record<string, unknown> | undefined } | undefined };

export type RenderPage = (ctx: RenderContext, view: string, data: Record<string, unknown>, status?: number) => void;

export interface Render extends RenderPage {
  /** The words of the language this request's pages are in (for text built outside a view). */
  translatorFor(ctx: RenderContext): Translate;
}

export interface RenderOptions {
  messages?: Messages;
  /** The `ui` config: branding every page sees as `it.ui`. */
  ui?: Partial<UiSettings>;
}

/**
 * Renders views/<view>.eta (HTML-escaped by default) as an uncacheable page, in the
 * language chosen for the request (i18n/locale.ts): the app's ui_locales (an interaction's
 * own, put in ctx.state.uiLocales by its handler, or this request's), then Accept-Language.
 * Every view gets `lang`, `t` (translate a key) and `ui` besides its own data.
 */
export function createRenderer(options: RenderOptions = {}): Render {
  const eta = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true });
  if (options.ui?.templatesDir) useOverrides(eta, options.ui.templatesDir);
  const messages = options.messages ?? defaultMessages();
  const defaultLocale = options.ui?.defaultLocale ?? 'en';
  const ui = pageBranding(options.ui);
  const localeOf = (ctx: RenderContext) => chooseLocale({
    uiLocales: ctx.state?.uiLocales ?? ctx.oidc?.params?.ui_locales ?? ctx.query?.ui_locales,
    acceptLanguage: ctx.get('accept-language'),
  }, messages.locales, defaultLocale);
  const translatorFor = (ctx: RenderContext, locale = localeOf(ctx)): Translate => {
    const t = messages.translator(locale);
    return (key, vars) => t(key, { product: ui.productName, ...vars });
  };
  const render = (ctx: RenderContext, view: string, data: Record<string, unknown>, status = 200) => {
    const lang = localeOf(ctx);
    ctx.status = status;
    ctx.type = 'html';
    // Pages carry per-login state (interaction ids, CSRF tokens): never cache them.
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Language', lang);
    ctx.body = eta.render(view, { lang, t: translatorFor(ctx, lang), ui, ...data });
  };
  return Object.assign(render, { translatorFor });
}

/**
 * `ui.templatesDir`: a file there with the path of one under views/ (login.eta,
 * partials/upstream-button.eta, ...) is read instead of it. Paths still resolve inside
 * views/, so layouts and includes work unchanged and only the text is swapped; Eta's
 * cache keeps each template compiled once.
 */
function useOverrides(eta: Eta, templatesDir: string): void {
  const readDefault = eta.readFile!;
  eta.readFile = (path: string) => {
    const override = join(templatesDir, relative(VIEWS_DIR, path));
    return existsSync(override) ? readFileSync(override, 'utf8') : readDefault.call(eta, path);
  };
}
