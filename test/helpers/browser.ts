import { CookieJar } from 'tough-cookie';

/**
 * A person's browser over plain HTTP: a cookie jar (paths, SameSite, expiry honoured by
 * tough-cookie), redirects followed one by one, and HTML forms submitted as a browser would.
 */
export interface Page { url: URL; status: number; body: string; headers: Headers }

export class Browser {
  jar = new CookieJar();
  /** Every URL requested, in order, as the browser saw it (before `rewrite`). */
  readonly history: URL[] = [];
  /** Lets a test send requests for one origin to another (two Doorman processes, one issuer). */
  rewrite: (url: URL) => URL = (url) => url;
  /** Headers sent with every request, as a browser's settings would (Accept-Language). */
  headers: Record<string, string> = {};

  /** A second browser holding copies of this one's cookies (a stolen or replayed session). */
  async clone(): Promise<Browser> {
    const twin = new Browser();
    twin.jar = await this.jar.clone();
    return twin;
  }

  async request(url: URL | string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Page> {
    this.history.push(new URL(url));
    const target = this.rewrite(new URL(url));
    const headers = new Headers(this.headers);
    const cookie = await this.jar.getCookieString(target.href);
    if (cookie) headers.set('cookie', cookie);
    let body: string | undefined;
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(target, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const setCookie of res.headers.getSetCookie()) await this.jar.setCookie(setCookie, target.href, { ignoreError: true });
    return { url: new URL(url), status: res.status, body: await res.text(), headers: res.headers };
  }

  /** Follows redirects until a page is not a redirect, or its URL starts with `stopAt`. */
  async follow(first: Page, stopAt?: string): Promise<Page> {
    let page = first;
    for (let hops = 0; hops < 20; hops++) {
      const location = page.headers.get('location');
      if (page.status < 300 || page.status >= 400 || !location) return page;
      const next = new URL(location, page.url);
      if (stopAt && next.href.startsWith(stopAt)) return { url: next, status: 0, body: '', headers: new Headers() };
      page = await this.request(next);
    }
    throw new Error('too many redirects');
  }

  async visit(url: URL | string, stopAt?: string): Promise<Page> {
    return this.follow(await this.request(url), stopAt);
  }

  /** Submits the form whose action contains `actionPart`, with its hidden fields plus `extra`. */
  async submit(page: Page, actionPart: string, extra: Record<string, string> = {}, stopAt?: string): Promise<Page> {
    const form = findForm(page.body, actionPart);
    return this.follow(await this.request(new URL(form.action, page.url), { method: 'POST', form: { ...form.fields, ...extra } }), stopAt);
  }
}

export function findForm(html: string, actionPart: string): { action: string; fields: Record<string, string> } {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  const match = forms.find((f) => decode(f[1]!).includes(actionPart));
  if (!match) throw new Error(`no form with action containing ${actionPart} in:\n${html.slice(0, 2000)}`);
  const fields: Record<string, string> = {};
  for (const input of match[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name) fields[decode(name)] = decode(value);
  }
  return { action: decode(match[1]!), fields };
}

function decode(s: string): string {
  return s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(parseInt(n, 16)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
