import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { applyFault, escapeHtml, json, listenOnLoopback, page, readBody, type LookalikeFault } from './lookalike-http.ts';

const LABEL = 'Demo GitHub (look-alike)';
const show = (res: ServerResponse, status: number, html: string) => page(res, status, html, LABEL);

/**
 * A stand-in for GitHub (web flow + REST API) on loopback, with GitHub's quirks:
 * token errors come with HTTP 200 and an `error` field; the token answer is
 * form-encoded unless JSON is asked for; a wrong redirect_uri is reported by redirecting
 * to the registered one with error=redirect_uri_mismatch; /user shows only the public
 * email (often null), /user/emails needs the user:email scope; the API refuses requests
 * without a User-Agent; orgs and teams need read:org. Its API lives under /api/v3, like
 * GitHub Enterprise Server's. With `userTokenTtlSeconds` set it issues user tokens as a
 * GitHub App with expiring tokens does: `expires_in`, and a refresh token that works once
 * (each refresh returns a new one; a used one answers `bad_refresh_token`).
 * https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
 */
export interface GithubUser {
  id: number;
  login: string;
  name: string | null;
  /** The public profile email; GitHub sends null when the person keeps it private. */
  email: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
  orgs?: string[];
  teams?: { org: string; slug: string }[];
}

export interface GithubLookalike {
  baseUrl: string;
  users: GithubUser[];
  tokenDelayMs: number;
  tokensIssued: number;
  /** Answer the token request form-encoded even when JSON is asked for (some OAuth2 servers do). */
  alwaysFormEncoded: boolean;
  /** Misbehaviour per path (`/login/oauth/access_token`, `/api/v3/user`, ...), for tests of error pages. */
  faults: Record<string, LookalikeFault>;
  /** Set: user tokens expire after this many seconds and come with rotating refresh tokens (GitHub App). Unset: OAuth app tokens that never expire. */
  userTokenTtlSeconds: number | undefined;
  /** Refresh grants answered with new tokens. */
  refreshes: number;
  /** The person revokes the app's authorization: every token and refresh token of theirs stops working. */
  revokeAuthorization(login: string): void;
  close(): Promise<void>;
}

interface Grant { clientId: string; redirectUri: string; user: GithubUser; scope: string; challenge?: string; used: boolean; expires: number }

export async function startGithubLookalike(opts: { clients: { clientId: string; clientSecret: string; redirectUri: string; label?: string }[]; users: GithubUser[] }): Promise<GithubLookalike> {
  const pending = new Map<string, Omit<Grant, 'user' | 'used' | 'expires'> & { state: string }>();
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, { user: GithubUser; scopes: string[]; expires: number }>();
  const refreshTokens = new Map<string, { clientId: string; user: GithubUser; scopes: string[] }>();
  const state: GithubLookalike = {
    baseUrl: '', users: opts.users, tokenDelayMs: 0, tokensIssued: 0, alwaysFormEncoded: false, faults: {}, userTokenTtlSeconds: undefined, refreshes: 0,
    revokeAuthorization(login) {
      for (const [k, v] of tokens) if (v.user.login === login) tokens.delete(k);
      for (const [k, v] of refreshTokens) if (v.user.login === login) refreshTokens.delete(k);
    },
    close: async () => {},
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => json(res, 500, { message: String(err) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', state.baseUrl);
    if (await applyFault(state.faults, url.pathname, res)) return;
    if (url.pathname.startsWith('/api/v3/')) return api(req, url, res);
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /login/oauth/authorize': return authorize(url.searchParams, res);
      case 'POST /login/oauth/authorize': return decide(new URLSearchParams(await readBody(req)), res);
      case 'POST /login/oauth/access_token':
        if (state.tokenDelayMs) await new Promise((ok) => setTimeout(ok, state.tokenDelayMs));
        return accessToken(req, new URLSearchParams(await readBody(req)), res);
      default: return json(res, 404, { message: 'Not Found' });
    }
  }

  function authorize(p: URLSearchParams, res: ServerResponse): void {
    const client = opts.clients.find((c) => c.clientId === p.get('client_id'));
    if (!client) return show(res, 404, '<h1>404</h1><p>This is not the web page you are looking for.</p>');
    const back = new URL(client.redirectUri);
    if (p.get('state')) back.searchParams.set('state', p.get('state')!);
    if (p.get('redirect_uri') && p.get('redirect_uri') !== client.redirectUri) {
      back.searchParams.set('error', 'redirect_uri_mismatch');
      back.searchParams.set('error_description', 'The redirect_uri MUST match the registered callback URL for this application.');
      res.writeHead(302, { Location: back.href }).end();
      return;
    }
    const id = randomBytes(16).toString('base64url');
    pending.set(id, {
      clientId: client.clientId, redirectUri: client.redirectUri, scope: p.get('scope') ?? '', state: p.get('state') ?? '',
      ...(p.get('code_challenge_method') === 'S256' && p.get('code_challenge') ? { challenge: p.get('code_challenge')! } : {}),
    });
    const buttons = opts.users.map((u) => `<button type="submit" name="login" value="${escapeHtml(u.login)}">Sign in as ${escapeHtml(u.login)}</button>`).join('<br>');
    // The demo's generic OAuth2 provider is this server under another client: it says so (client.label).
    page(res, 200, `<h1>Authorize Doorman</h1><p>Doorman (demo) wants to access your ${client.label ? '' : 'GitHub '}account.</p>
      <form method="post" action="/login/oauth/authorize"><input type="hidden" name="request" value="${id}">${buttons}
      <br><button type="submit" name="deny" value="1">Cancel</button></form>`, client.label ?? LABEL);
  }

  function decide(form: URLSearchParams, res: ServerResponse): void {
    const request = pending.get(form.get('request') ?? '');
    if (!request) return show(res, 400, '<h1>Request expired</h1>');
    pending.delete(form.get('request')!);
    const back = new URL(request.redirectUri);
    const user = opts.users.find((u) => u.login === form.get('login'));
    if (form.get('deny') || !user) {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user has denied your application access.');
    } else {
      const code = randomBytes(10).toString('hex');
      codes.set(code, { ...request, user, used: false, expires: Date.now() + 600_000 });
      back.searchParams.set('code', code);
    }
    if (request.state) back.searchParams.set('state', request.state);
    res.writeHead(302, { Location: back.href }).end();
  }

  function accessToken(req: IncomingMessage, form: URLSearchParams, res: ServerResponse): void {
    const wantsJson = (req.headers.accept ?? '').includes('application/json') && !state.alwaysFormEncoded;
    // GitHub's quirk: errors are HTTP 200 too.
    const answer = (body: Record<string, string | number>): void => {
      if (wantsJson) return json(res, 200, body);
      const form = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)]));
      res.writeHead(200, { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' }).end(new URLSearchParams(form).toString());
    };
    const client = opts.clients.find((c) => c.clientId === form.get('client_id'));
    if (!client || client.clientSecret !== form.get('client_secret')) {
      return answer({ error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' });
    }
    if (form.get('grant_type') === 'refresh_token') {
      const old = refreshTokens.get(form.get('refresh_token') ?? '');
      if (!old || old.clientId !== client.clientId) return answer({ error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' });
      refreshTokens.delete(form.get('refresh_token')!); // rotation: a refresh token works once
      state.refreshes++;
      return answer(issueTokens(client.clientId, old.user, old.scopes));
    }
    const grant = codes.get(form.get('code') ?? '');
    const pkceOk = !grant?.challenge || createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url') === grant.challenge;
    if (!grant || grant.used || grant.expires < Date.now() || grant.clientId !== client.clientId || !pkceOk) {
      return answer({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
    }
    grant.used = true;
    if (form.get('redirect_uri') && form.get('redirect_uri') !== grant.redirectUri) {
      return answer({ error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.' });
    }
    state.tokensIssued++;
    answer(issueTokens(client.clientId, grant.user, grant.scope.split(/[ ,]+/).filter(Boolean)));
  }

  function issueTokens(clientId: string, user: GithubUser, scopes: string[]): Record<string, string | number> {
    const ttl = state.userTokenTtlSeconds;
    const token = `${ttl ? 'ghu' : 'gho'}_${randomBytes(18).toString('base64url')}`;
    tokens.set(token, { user, scopes, expires: ttl ? Date.now() + ttl * 1000 : Infinity });
    const body: Record<string, string | number> = { access_token: token, scope: scopes.join(','), token_type: 'bearer' };
    if (!ttl) return body;
    const refresh = `ghr_${randomBytes(30).toString('base64url')}`;
    refreshTokens.set(refresh, { clientId, user, scopes });
    return { ...body, expires_in: ttl, refresh_token: refresh, refresh_token_expires_in: 15897600 };
  }

  function api(req: IncomingMessage, url: URL, res: ServerResponse): void {
    if (!req.headers['user-agent']) {
      return json(res, 403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.' });
    }
    const session = tokens.get((req.headers.authorization ?? '').replace(/^(Bearer|token) /, ''));
    if (!session || session.expires < Date.now()) return json(res, 401, { message: 'Bad credentials' });
    const { user, scopes } = session;
    switch (url.pathname) {
      case '/api/v3/user':
        return json(res, 200, { id: user.id, login: user.login, name: user.name, email: user.email, avatar_url: `${state.baseUrl}/avatars/${user.id}` });
      case '/api/v3/user/emails':
        if (!scopes.includes('user:email') && !scopes.includes('user')) return json(res, 404, { message: 'Not Found' });
        return json(res, 200, user.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })));
      case '/api/v3/user/orgs':
        if (!scopes.includes('read:org')) return json(res, 403, { message: 'You need at least read:org scope' });
        return json(res, 200, (user.orgs ?? []).map((login, i) => ({ login, id: 1000 + i })));
      case '/api/v3/user/teams':
        if (!scopes.includes('read:org')) return json(res, 403, { message: 'You need at least read:org scope' });
        return json(res, 200, (user.teams ?? []).map((t) => ({ slug: t.slug, name: t.slug, organization: { login: t.org } })));
      default:
        return json(res, 404, { message: 'Not Found' });
    }
  }

  const listening = await listenOnLoopback(server);
  state.baseUrl = listening.origin;
  state.close = listening.close;
  return state;
}
