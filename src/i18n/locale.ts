/**
 * Which language a page is in: the first of the app's `ui_locales` (OIDC Core §3.1.2.1,
 * space-separated BCP 47 tags, in order of preference) that Doorman has, else the best
 * of the browser's Accept-Language (RFC 9110 §12.5.4), else the configured default.
 * A tag matches exactly or by its primary language (`de-CH` → `de`).
 */
export function chooseLocale(input: { uiLocales?: unknown; acceptLanguage?: string | undefined }, available: readonly string[], fallback: string): string {
  const fromApp = typeof input.uiLocales === 'string' ? input.uiLocales.slice(0, 512).split(/\s+/).filter(Boolean) : [];
  for (const tag of [...fromApp, ...preferredLanguages(input.acceptLanguage)]) {
    const found = match(tag, available);
    if (found) return found;
  }
  return fallback;
}

function match(tag: string, available: readonly string[]): string | undefined {
  const wanted = tag.toLowerCase();
  return available.find((a) => a.toLowerCase() === wanted) ?? available.find((a) => a.toLowerCase() === wanted.split('-')[0]);
}

/** Accept-Language's tags by descending q (stable for equal q); q=0 and `*` dropped. */
export function preferredLanguages(header: string | undefined): string[] {
  if (!header) return [];
  return header.slice(0, 1024).split(',').slice(0, 32).map((part, i) => {
    const [tag = '', ...params] = part.trim().split(';');
    const q = params.map((p) => /^\s*q=([01](?:\.\d{0,3})?)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), i };
  }).filter((l) => l.q > 0 && /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(l.tag))
    .sort((a, b) => b.q - a.q || a.i - b.i).map((l) => l.tag);
}
