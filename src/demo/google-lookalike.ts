import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { applyFault, escapeHtml, json, listenOnLoopback, page, readBody, type LookalikeFault } from './lookalike-http.ts';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

const LABEL = 'Demo Google (look-alike)';
const show = (res: ServerResponse, status: number, html: string) => page(res, status, html, LABEL);

/**
 * A stand-in for Google's OpenID Connect endpoints on loopback, for the demo and the tests.
 * It keeps Google's paths and answers, and is as strict as Google where it matters: exact
 * redirect_uri (an error page, not a redirect, when it does not match), client secret,
 * PKCE S256, single-use codes that expire, RS256 ID tokens with `kid`, nonce echoed.
 * Offline access as Google does it: a refresh token only with `access_type=offline`, and
 * refreshing returns a new access token but no new refresh token (the old one stays good).
 * Revocation as Google's https://oauth2.googleapis.com/revoke: POST form `token=` (an
 * access or refresh token), 200 and the whole authorization is gone; 400 `invalid_token`
 * for a token it does not know (or no longer).
 * Never used in production: the demo refuses NODE_ENV=production.
 */

export interface LookalikeUser {
  sub: string;
  email?: string;
  /** Google sends a boolean; tests may send something else to check that only `true` counts. */
  email_verified?: unknown;
  name?: string;
  picture?: string;
  hd?: string;
}

export interface LookalikeClient { clientId: string; clientSecret: string; redirectUris: string[] }

export interface GoogleLookalike {
  issuer: string;
  users: LookalikeUser[];
  /** Number of successful code exchanges, for tests that check a replay did not get through. */
  tokensIssued: number;
  /** When set, the token endpoint holds every request this long before answering. */
  tokenDelayMs: number;
  /** Number of discovery documents served, for tests of the broker's caching. */
  discoveryRequests: number;
  /**
   * The `iss` put in ID tokens; default the issuer URL. Google documents `accounts.google.com`
   * as a second form, so tests set the issuer without its scheme here.
   */
  idTokenIssuer: string | undefined;
  /** Misbehaviour per path (`/token`, `/oauth2/v3/certs`, ...), for tests of error pages. */
  faults: Record<string, LookalikeFault>;
  /** Lifetime of access tokens issued from now on (Google: 3599). */
  accessTokenTtlSeconds: number;
  /** Refresh grants answered with a new access token. */
  refreshes: number;
  /** The person removes the app at myaccount.google.com: its refresh and access tokens stop working. */
  revokeAuthorization(sub: string): void;
  /** Subjects whose authorization a client revoked at the revocation endpoint (POST /revoke), in order. */
  revocations: string[];
  close(): Promise<void>;
}

interface PendingRequest { clientId: string; redirectUri: string; state?: string; nonce?: string; challenge?: string; scope: string; expires: number; offline?: boolean }
interface IssuedCode extends PendingRequest { user: LookalikeUser }

const CODE_TTL_MS = 60_000;

export async function startGoogleLookalike(opts: {
  clients: LookalikeClient[];
  users: LookalikeUser[];
  port?: number;
  /** Sign this user in at once, without the account picker (an upstream that "answers at once", for the benchmark). */
  autoApprove?: string;
}): Promise<GoogleLookalike> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = randomBytes(8).toString('hex');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const pending = new Map<string, PendingRequest>();
  const codes = new Map<string, IssuedCode>();
  const accessTokens = new Map<string, { user: LookalikeUser; expires: number }>();
  const refreshTokens = new Map<string, { clientId: string; user: LookalikeUser; scope: string }>();
  let issuer = '';

  const state: GoogleLookalike = {
    issuer: '', users: opts.users, tokensIssued: 0, tokenDelayMs: 0, discoveryRequests: 0, idTokenIssuer: undefined, faults: {}, accessTokenTtlSeconds: 3599, refreshes: 0, revocations: [],
    revokeAuthorization(sub) {
      for (const [k, v] of accessTokens) if (v.user.sub === sub) accessTokens.delete(k);
      for (const [k, v] of refreshTokens) if (v.user.sub === sub) refreshTokens.delete(k);
    },
    close: async () => {},
  };
  const issueAccessToken = (user: LookalikeUser) => {
    const token = `ya29.${randomBytes(32).toString('base64url')}`;
    accessTokens.set(token, { user, expires: Date.now() + state.accessTokenTtlSeconds * 1000 });
    return token;
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => json(res, 500, { error: 'server_error', error_description: String(err) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', issuer);
    const route = `${req.method} ${url.pathname}`;
    if (await applyFault(state.faults, url.pathname, res)) return;
    switch (route) {
      case 'GET /.well-known/openid-configuration':
        state.discoveryRequests++;
        return json(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/o/oauth2/v2/auth`,
          token_endpoint: `${issuer}/token`,
          userinfo_endpoint: `${issuer}/v1/userinfo`,
          revocation_endpoint: `${issuer}/revoke`,
          jwks_uri: `${issuer}/oauth2/v3/certs`,
          response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token', 'code token id_token', 'none'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid', 'email', 'profile'],
          token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
          claims_supported: ['aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name', 'iat', 'iss', 'name', 'picture', 'sub'],
          code_challenge_methods_supported: ['plain', 'S256'],
          grant_types_supported: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
        });
      case 'GET /oauth2/v3/certs':
        return json(res, 200, { keys: [jwk] });
      case 'GET /o/oauth2/v2/auth':
        return authorize(url, res);
      case 'POST /o/oauth2/v2/auth/decide':
        return decide(new URLSearchParams(await readBody(req)), res);
      case 'POST /token':
        if (state.tokenDelayMs) await new Promise((ok) => setTimeout(ok, state.tokenDelayMs));
        return token(req, new URLSearchParams(await readBody(req)), res);
      case 'POST /revoke':
        return revoke(new URLSearchParams(await readBody(req)), res);
      case 'GET /v1/userinfo': {
        const token = accessTokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
        if (!token || token.expires < Date.now()) return json(res, 401, { error: 'invalid_request', error_description: 'Invalid Credentials' });
        return json(res, 200, publicClaims(token.user));
      }
      default:
        return json(res, 404, { error: 'not_found' });
    }
  }

  function authorize(url: URL, res: ServerResponse): void {
    const p = url.searchParams;
    const client = opts.clients.find((c) => c.clientId === p.get('client_id'));
    // Google shows an error page and does not redirect when client or redirect_uri is wrong.
    if (!client) return show(res, 401, '<h1>Error 401: invalid_client</h1><p>The OAuth client was not found.</p>');
    if (!client.redirectUris.includes(p.get('redirect_uri') ?? '')) {
      return show(res, 400, '<h1>Error 400: redirect_uri_mismatch</h1>');
    }
    if (p.get('response_type') !== 'code' || !p.get('scope')?.split(' ').includes('openid')) {
      return show(res, 400, '<h1>Error 400: invalid_request</h1>');
    }
    const id = randomBytes(16).toString('base64url');
    pending.set(id, {
      clientId: client.clientId, redirectUri: p.get('redirect_uri')!, scope: p.get('scope')!, expires: Date.now() + 600_000,
      ...(p.get('state') ? { state: p.get('state')! } : {}),
      ...(p.get('nonce') ? { nonce: p.get('nonce')! } : {}),
      ...(p.get('code_challenge_method') === 'S256' && p.get('code_challenge') ? { challenge: p.get('code_challenge')! } : {}),
      ...(p.get('access_type') === 'offline' ? { offline: true } : {}),
    });
    if (opts.autoApprove) return decide(new URLSearchParams({ request: id, sub: opts.autoApprove }), res);
    const buttons = opts.users.map((u) =>
      `<button type="submit" name="sub" value="${escapeHtml(u.sub)}">${escapeHtml(u.name ?? u.sub)} &lt;${escapeHtml(u.email ?? 'no email')}&gt;</button>`).join('<br>');
    show(res, 200, `<h1>Choose an account</h1><p>to continue to Doorman (demo Google)</p>
      <form method="post" action="/o/oauth2/v2/auth/decide"><input type="hidden" name="request" value="${id}">${buttons}
      <br><button type="submit" name="deny" value="1">Cancel</button></form>`);
  }

  function decide(form: URLSearchParams, res: ServerResponse): void {
    const request = pending.get(form.get('request') ?? '');
    if (!request || request.expires < Date.now()) return show(res, 400, '<h1>This request has expired</h1>');
    pending.delete(form.get('request')!);
    const back = new URL(request.redirectUri);
    if (request.state) back.searchParams.set('state', request.state);
    const user = opts.users.find((u) => u.sub === form.get('sub'));
    if (form.get('deny') || !user) {
      back.searchParams.set('error', 'access_denied');
    } else {
      const code = `4/0${randomBytes(24).toString('base64url')}`;
      codes.set(code, { ...request, expires: Date.now() + CODE_TTL_MS, user });
      back.searchParams.set('code', code);
      back.searchParams.set('scope', request.scope);
      // Google appends these to every successful callback; a client must ignore them.
      back.searchParams.set('authuser', '0');
      back.searchParams.set('prompt', 'consent');
      if (user.hd) back.searchParams.set('hd', user.hd);
    }
    res.writeHead(302, { Location: back.href }).end();
  }

  /** Google needs no client authentication here: the token itself names the authorization. */
  function revoke(form: URLSearchParams, res: ServerResponse): void {
    const token = form.get('token') ?? '';
    const user = refreshTokens.get(token)?.user ?? accessTokens.get(token)?.user;
    if (!user) return json(res, 400, { error: 'invalid_token', error_description: 'Token expired or revoked' });
    state.revokeAuthorization(user.sub);
    state.revocations.push(user.sub);
    json(res, 200, {});
  }

  async function token(req: IncomingMessage, form: URLSearchParams, res: ServerResponse): Promise<void> {
    let clientId = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (basic) {
      const [id, s] = Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent);
      clientId = id ?? null;
      secret = s ?? null;
    }
    const client = opts.clients.find((c) => c.clientId === clientId);
    if (!client || client.clientSecret !== secret) return json(res, 401, { error: 'invalid_client', error_description: 'Unauthorized' });
    if (form.get('grant_type') === 'refresh_token') {
      const grant = refreshTokens.get(form.get('refresh_token') ?? '');
      if (!grant || grant.clientId !== client.clientId) return json(res, 400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' });
      state.refreshes++;
      // No refresh_token in the answer: Google's stays valid until revoked.
      return json(res, 200, { access_token: issueAccessToken(grant.user), expires_in: state.accessTokenTtlSeconds, scope: grant.scope, token_type: 'Bearer' });
    }
    if (form.get('grant_type') !== 'authorization_code') return json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type' });
    const code = codes.get(form.get('code') ?? '');
    if (!code || code.clientId !== client.clientId || code.expires < Date.now()) return json(res, 400, { error: 'invalid_grant', error_description: 'Bad Request' });
    // Single use: a second exchange finds nothing (Google answers invalid_grant either way).
    codes.delete(form.get('code')!);
    if (form.get('redirect_uri') !== code.redirectUri) return json(res, 400, { error: 'redirect_uri_mismatch', error_description: 'Bad Request' });
    if (code.challenge) {
      const verifier = form.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) {
        return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid code verifier.' });
      }
    }
    const accessToken = issueAccessToken(code.user);
    state.tokensIssued++;
    const idToken = await signIdToken(privateKey, kid, state.idTokenIssuer ?? issuer, client.clientId, code, accessToken);
    let refreshToken: string | undefined;
    if (code.offline) {
      refreshToken = `1//0${randomBytes(32).toString('base64url')}`;
      refreshTokens.set(refreshToken, { clientId: client.clientId, user: code.user, scope: code.scope });
    }
    json(res, 200, {
      access_token: accessToken, expires_in: state.accessTokenTtlSeconds, scope: code.scope, token_type: 'Bearer', id_token: idToken,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    });
  }

  const listening = await listenOnLoopback(server, opts.port);
  issuer = listening.origin;
  state.issuer = issuer;
  state.close = listening.close;
  return state;
}

function publicClaims(user: LookalikeUser): Record<string, unknown> {
  const claims: Record<string, unknown> = { sub: user.sub };
  for (const key of ['email', 'email_verified', 'name', 'picture', 'hd'] as const) if (user[key] !== undefined) claims[key] = user[key];
  return claims;
}

async function signIdToken(key: CryptoKey, kid: string, issuer: string, clientId: string, code: IssuedCode, accessToken: string): Promise<string> {
  const digest = createHash('sha256').update(accessToken).digest();
  const atHash = digest.subarray(0, digest.length / 2).toString('base64url');
  return new SignJWT({ ...publicClaims(code.user), azp: clientId, at_hash: atHash, ...(code.nonce ? { nonce: code.nonce } : {}) })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(clientId)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key);
}
