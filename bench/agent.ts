/**
 * The load driver's browser: fetch with manual redirects and a small cookie jar (name,
 * path, deletion), lean enough that the driver's own CPU stays small next to the server's.
 */
export class Agent {
  readonly #cookies = new Map<string, { value: string; path: string }>();

  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...init.headers };
    const cookie = [...this.#cookies].filter(([, c]) => target.pathname.startsWith(c.path)).map(([k, c]) => `${k.split('|')[0]}=${c.value}`).join('; ');
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(target, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) this.#store(line);
    return res;
  }

  #store(line: string): void {
    const [pair, ...attrs] = line.split(';');
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    let path = '/';
    let expired = value === '';
    for (const attr of attrs) {
      const [k, v = ''] = attr.trim().split('=');
      if (k!.toLowerCase() === 'path') path = v;
      if (k!.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) expired = true;
      if (k!.toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
    }
    const key = `${name}|${path}`;
    if (expired) this.#cookies.delete(key);
    else this.#cookies.set(key, { value, path });
  }
}
