import { createHash, randomBytes } from 'node:crypto';
import { Agent } from './agent.ts';
import { BENCH_CLIENTS, REDIRECT_URI } from './clients.ts';

/** The request sequences the benchmark times, identical for Doorman and the baselines. */

type Client = (typeof BENCH_CLIENTS)[number];
const basic = (c: Client) => `Basic ${Buffer.from(`${c.clientId}:${c.secret}`).toString('base64')}`;

/**
 * Authorization request → (login page → upstream → callback, for Doorman) → code. Follows
 * redirects; submits Doorman's login form for the upstream when it appears.
 */
export async function authorize(agent: Agent, base: string, client: Client, scope: string, extra: Record<string, string> = {}): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${base}/auth`);
  url.search = new URLSearchParams({
    client_id: client.clientId, response_type: 'code', scope, redirect_uri: REDIRECT_URI, state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'), code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', ...extra,
  }).toString();
  let res = await agent.request(url.href);
  let current = url.href;
  for (let hops = 0; hops < 15; hops++) {
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location')!, current).href;
      await res.arrayBuffer();
      if (next.startsWith(REDIRECT_URI)) {
        const code = new URL(next).searchParams.get('code');
        if (!code) throw new Error(`no code: ${next}`);
        return { code, verifier };
      }
      current = next;
      res = await agent.request(next);
      continue;
    }
    const html = await res.text();
    const form = /<form method="post" action="([^"]*\/upstream\/google)">\s*<input type="hidden" name="csrf" value="([^"]+)">/.exec(html);
    if (res.status !== 200 || !form) throw new Error(`unexpected ${res.status} at ${current}: ${html.slice(0, 200)}`);
    current = new URL(form[1]!, current).href;
    res = await agent.request(current, { form: { csrf: form[2]! } });
  }
  throw new Error('too many redirects');
}

export async function redeem(base: string, client: Client, code: string, verifier: string): Promise<{ access_token: string; refresh_token?: string }> {
  return tokenRequest(base, client, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI });
}

export async function tokenRequest(base: string, client: Client, form: Record<string, string>): Promise<{ access_token: string; refresh_token?: string }> {
  const res = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = await res.json() as { access_token?: string; refresh_token?: string; error?: string };
  if (!res.ok || !body.access_token) throw new Error(`token: ${res.status} ${JSON.stringify(body)}`);
  return body as { access_token: string; refresh_token?: string };
}

export async function userinfo(base: string, accessToken: string): Promise<void> {
  const res = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  if (res.status !== 200) throw new Error(`userinfo: ${res.status}`);
  await res.arrayBuffer();
}

export async function get(url: string): Promise<void> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  await res.arrayBuffer();
}

/** The full login of a person with no session: authorize, (broker), code, token, userinfo. */
export async function fullLogin(base: string, agent = new Agent(), client: Client = BENCH_CLIENTS[0], scope = 'openid email profile', extra: Record<string, string> = {}) {
  const { code, verifier } = await authorize(agent, base, client, scope, extra);
  const tokens = await redeem(base, client, code, verifier);
  await userinfo(base, tokens.access_token);
  return { agent, tokens };
}
