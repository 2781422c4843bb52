import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';

/**
 * The demo's downstream app: an OIDC client of Doorman, as small as a real one can be.
 * "Sign in" runs authorization code + PKCE, asking for offline_access; the callback verifies
 * the ID token, fetches userinfo and shows both. "Refresh" runs the refresh_token grant and
 * shows the new tokens' expiry. Sessions live in memory: it is a demo.
 */
export interface SampleApp { url: string; close(): Promise<void> }

interface Pending { state: string; nonce: string; verifier: string }
interface Signed {
  claims: Record<string, unknown>; userinfo: Record<string, unknown>; idToken: string;
  refreshToken?: string; accessTokenExpiresAt?: number; refreshedAt?: number;
}

export async function startSampleApp(opts: { issuer: string; clientId: string; clientSecret: string; port: number; host: string }): Promise<SampleApp> {
  const base = `http://${opts.host}:${opts.port}`;
  const redirectUri = `${base}/callback`;
  let config: oidc.Configuration | undefined;
  // Discovery is lazy so the app can start before Doorman answers; http is allowed for the loopback demo only.
  const rp = async () => config ??= await oidc.discovery(new URL(opts.issuer), opts.clientId, undefined,
    oidc.ClientSecretBasic(opts.clientSecret), { execute: [oidc.allowInsecureRequests] });
  const sessions = new Map<string, { pending?: Pending; signed?: Signed }>();

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => html(res, 500, `<h1>Sign-in failed</h1><p>${escape(err instanceof Error ? err.message : String(err))}</p><p><a href="/">Back</a></p>`));
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const sid = /(?:^|; )sample_sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
    const session = sid ? sessions.get(sid) : undefined;
    if (url.pathname === '/') {
      if (!session?.signed) return html(res, 200, '<h1>Sample app</h1><p>You are not signed in.</p><p><a href="/login"><button>Sign in</button></a></p>');
      return html(res, 200, signedInPage(session.signed));
    }
    if (url.pathname === '/login') {
      const pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
      const newSid = randomBytes(16).toString('base64url');
      sessions.set(newSid, { pending });
      const target = oidc.buildAuthorizationUrl(await rp(), {
        redirect_uri: redirectUri, scope: 'openid email profile groups offline_access', state: pending.state, nonce: pending.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier), code_challenge_method: 'S256',
      });
      res.writeHead(302, { Location: target.href, 'Set-Cookie': `sample_sid=${newSid}; Path=/; HttpOnly; SameSite=Lax` }).end();
      return;
    }
    if (url.pathname === '/callback') {
      if (!session?.pending) return html(res, 400, '<h1>No sign-in in progress</h1><p><a href="/">Start again</a></p>');
      const { pending } = session;
      const tokens = await oidc.authorizationCodeGrant(await rp(), url, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
      const claims = tokens.claims()!;
      const userinfo = await oidc.fetchUserInfo(await rp(), tokens.access_token, claims.sub);
      sessions.set(sid!, { signed: { claims, userinfo, idToken: tokens.id_token!, refreshToken: tokens.refresh_token, accessTokenExpiresAt: expiresAt(tokens) } });
      res.writeHead(302, { Location: '/' }).end();
      return;
    }
    if (url.pathname === '/refresh' && req.method === 'POST' && session?.signed?.refreshToken) {
      // Doorman rotates refresh tokens: keep the new one, and the new ID token when one comes.
      const signed = session.signed;
      const tokens = await oidc.refreshTokenGrant(await rp(), signed.refreshToken!);
      sessions.set(sid!, {
        signed: {
          ...signed, claims: tokens.claims() ?? signed.claims, idToken: tokens.id_token ?? signed.idToken,
          refreshToken: tokens.refresh_token ?? signed.refreshToken, accessTokenExpiresAt: expiresAt(tokens), refreshedAt: Date.now(),
        },
      });
      res.writeHead(303, { Location: '/' }).end();
      return;
    }
    if (url.pathname === '/logout' && session?.signed) {
      sessions.delete(sid!);
      const end = oidc.buildEndSessionUrl(await rp(), { id_token_hint: session.signed.idToken, post_logout_redirect_uri: `${base}/` });
      res.writeHead(302, { Location: end.href }).end();
      return;
    }
    html(res, 404, '<h1>Not found</h1>');
  }

  server.listen(opts.port, opts.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}

function signedInPage(signed: Signed): string {
  const table = (o: Record<string, unknown>) => `<table>${Object.entries(o).map(([k, v]) => `<tr><th style="text-align:left">${escape(k)}</th><td>${escape(JSON.stringify(v))}</td></tr>`).join('')}</table>`;
  const when = (ms: number | undefined) => ms === undefined ? 'unknown' : new Date(ms).toISOString();
  const idTokenExp = typeof signed.claims.exp === 'number' ? signed.claims.exp * 1000 : undefined;
  const refresh = signed.refreshToken
    ? '<form method="post" action="/refresh"><button type="submit">Refresh</button> (runs the refresh_token grant)</form>'
    : '<p>No refresh token was issued.</p>';
  return `<h1>Sample app</h1><p>Signed in through Doorman as <code id="sub">${escape(String(signed.claims.sub))}</code>. Claims received:</p>
    <h2>ID token (decoded claims)</h2>${table(signed.claims)}
    <h2>Userinfo</h2>${table(signed.userinfo)}
    <h2>Tokens</h2>${signed.refreshedAt ? `<p id="refreshed">Refreshed at ${when(signed.refreshedAt)}.</p>` : ''}
    <p>Access token expires at <span id="access-expiry">${when(signed.accessTokenExpiresAt)}</span>; ID token expires at <span id="id-expiry">${when(idTokenExp)}</span>.</p>
    ${refresh}<p><a href="/logout">Sign out</a></p>`;
}

function expiresAt(tokens: { expiresIn(): number | undefined }): number | undefined {
  const seconds = tokens.expiresIn();
  return seconds === undefined ? undefined : Date.now() + seconds * 1000;
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
    .end(`<!doctype html><html><head><title>Sample app</title></head><body style="font-family:system-ui;max-width:50rem;margin:3rem auto">${body}</body></html>`);
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
