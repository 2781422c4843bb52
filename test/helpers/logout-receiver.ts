import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import * as oidc from 'openid-client';

/** What the app does with the next request: accept it, answer 500, or never answer. */
export type ReceiverReply = 'ok' | 'fail' | 'hang';
export interface VerifiedLogout { path: string; token: string; claims: jose.JWTPayload & { sid?: string; events?: Record<string, unknown> } }

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * An app's back-channel logout endpoint, as OIDC Back-Channel Logout 1.0 §2.6 tells an RP
 * to validate a Logout Token: signature against the OP's JWKS (found by openid-client's
 * discovery), iss, aud, iat, typ logout+jwt, the backchannel-logout event, a `sub` or
 * `sid`, no `nonce`, and a `jti` it has not seen (replay). A valid token is answered
 * 200 and recorded; an invalid one 400 with the reason (`rejected`).
 */
export async function startLogoutReceiver() {
  const delivered: VerifiedLogout[] = [];
  const rejected: string[] = [];
  const seenJti = new Set<string>();
  const script: ReceiverReply[] = [];
  const hanging: ServerResponse[] = [];
  let requests = 0;
  let trust: { issuer: string; jwks: ReturnType<typeof jose.createRemoteJWKSet> } | undefined;

  async function verify(path: string, token: string): Promise<VerifiedLogout> {
    if (!trust) throw new Error('no issuer trusted yet');
    const { payload } = await jose.jwtVerify(token, trust.jwks, { issuer: trust.issuer, audience: path.slice(1), typ: 'logout+jwt', maxTokenAge: '2 minutes' });
    const claims = payload as VerifiedLogout['claims'];
    if (!claims.events || typeof claims.events !== 'object' || !(EVENT in claims.events)) throw new Error('no backchannel-logout event');
    if (!claims.sub && !claims.sid) throw new Error('neither sub nor sid');
    if ('nonce' in claims) throw new Error('nonce present');
    if (!claims.jti || seenJti.has(claims.jti)) throw new Error('jti replayed');
    seenJti.add(claims.jti);
    return { path, token, claims };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    requests++;
    let body = '';
    for await (const chunk of req) body += chunk;
    const reply = script.shift() ?? 'ok';
    if (reply === 'hang') return void hanging.push(res);
    if (reply === 'fail') return void res.writeHead(500).end();
    const token = new URLSearchParams(body).get('logout_token');
    if (req.method !== 'POST' || !req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') || !token) {
      rejected.push('not a form POST with logout_token');
      return void res.writeHead(400).end();
    }
    try {
      delivered.push(await verify(req.url ?? '/', token));
      res.writeHead(200, { 'cache-control': 'no-store' }).end();
    } catch (err) {
      rejected.push((err as Error).message);
      res.writeHead(400).end();
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    /** The logout URI of the client `clientId` (the path names the expected audience). */
    uriFor: (clientId: string) => `${origin}/${clientId}`,
    delivered, rejected, script,
    get requests() { return requests; },
    async trust(issuer: string) {
      const config = await oidc.discovery(new URL(issuer), 'receiver', undefined, undefined, { execute: [oidc.allowInsecureRequests] });
      const meta = config.serverMetadata();
      trust = { issuer: meta.issuer, jwks: jose.createRemoteJWKSet(new URL(meta.jwks_uri!)) };
      return meta;
    },
    /** Resolves to the first verified logout matching `match`, or fails after `ms`. */
    async waitFor(match: (l: VerifiedLogout) => boolean, ms = 10_000): Promise<VerifiedLogout> {
      const until = Date.now() + ms;
      for (;;) {
        const found = delivered.find(match);
        if (found) return found;
        if (Date.now() > until) throw new Error(`no matching logout token within ${ms} ms (rejected: ${rejected.join('; ') || 'none'})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    /** Posts a token as an attacker replaying it would; resolves to the app's status. */
    async post(path: string, token: string): Promise<number> {
      return (await fetch(`${origin}${path}`, { method: 'POST', body: new URLSearchParams({ logout_token: token }) })).status;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}
export type LogoutReceiver = Awaited<ReturnType<typeof startLogoutReceiver>>;
