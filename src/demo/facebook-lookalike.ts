import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { escapeHtml, json, listenOnLoopback, page, readBody } from './lookalike-http.ts';

const LABEL = 'Demo Facebook (look-alike)';
const show = (res: ServerResponse, status: number, html: string) => page(res, status, html, LABEL);

/**
 * A stand-in for Facebook Login and the Graph API on loopback, with Facebook's quirks:
 * versioned paths, `#_=_` appended to the callback, errors as {"error": {message, type,
 * code}} objects, appsecret_proof required on Graph calls, no email for people who
 * declined the permission or have none, and never a word on whether an email is verified.
 */
export interface FacebookUser { id: string; name: string; email?: string }

export interface FacebookLookalike {
  origin: string;
  users: FacebookUser[];
  tokenDelayMs: number;
  close(): Promise<void>;
}

interface Grant { redirectUri: string; user: FacebookUser; emailGranted: boolean; challenge?: string; used: boolean }

export async function startFacebookLookalike(opts: { appId: string; appSecret: string; redirectUri: string; users: FacebookUser[] }): Promise<FacebookLookalike> {
  const pending = new Map<string, { redirectUri: string; state: string; scope: string; challenge?: string }>();
  const codes = new Map<string, Grant>();
  const tokens = new Map<string, { user: FacebookUser; emailGranted: boolean }>();
  const state: FacebookLookalike = { origin: '', users: opts.users, tokenDelayMs: 0, close: async () => {} };
  const graphError = (res: ServerResponse, status: number, message: string, code: number, type = 'OAuthException') =>
    json(res, status, { error: { message, type, code, fbtrace_id: randomBytes(8).toString('base64url') } });

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => graphError(res, 500, String(err), 2));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', state.origin);
    const [, version, ...rest] = url.pathname.split('/');
    if (!/^v\d+\.\d+$/.test(version ?? '')) return graphError(res, 400, 'Unknown path components', 2500);
    switch (`${req.method} /${rest.join('/')}`) {
      case 'GET /dialog/oauth': return dialog(url.searchParams, res, version!);
      case 'POST /dialog/oauth': return decide(new URLSearchParams(await readBody(req)), res);
      case 'GET /oauth/access_token':
      case 'POST /oauth/access_token': {
        if (state.tokenDelayMs) await new Promise((ok) => setTimeout(ok, state.tokenDelayMs));
        const params = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : url.searchParams;
        return accessToken(params, res);
      }
      case 'GET /me': return me(req, url.searchParams, res);
      default: return graphError(res, 400, 'Unsupported get request.', 100, 'GraphMethodException');
    }
  }

  function dialog(p: URLSearchParams, res: ServerResponse, version: string): void {
    if (p.get('client_id') !== opts.appId) return show(res, 400, '<h1>Invalid App ID</h1>');
    if (p.get('redirect_uri') !== opts.redirectUri) {
      return show(res, 400, '<h1>URL blocked</h1><p>This redirect failed because the redirect URI is not whitelisted in the app\'s Client OAuth Settings.</p>');
    }
    const id = randomBytes(16).toString('base64url');
    pending.set(id, {
      redirectUri: opts.redirectUri, state: p.get('state') ?? '', scope: p.get('scope') ?? '',
      ...(p.get('code_challenge_method') === 'S256' && p.get('code_challenge') ? { challenge: p.get('code_challenge')! } : {}),
    });
    const buttons = opts.users.map((u) => `<button type="submit" name="user" value="${escapeHtml(u.id)}">Continue as ${escapeHtml(u.name)}</button>`).join('<br>');
    show(res, 200, `<h1>Log in with Facebook</h1><p>Doorman (demo) will receive your name and profile picture${p.get('scope')?.includes('email') ? ' and email address' : ''}.</p>
      <form method="post" action="/${escapeHtml(version)}/dialog/oauth"><input type="hidden" name="request" value="${id}">
      <label><input type="checkbox" name="decline_email" value="1"> Don't share my email address</label><br>${buttons}
      <br><button type="submit" name="deny" value="1">Cancel</button></form>`);
  }

  function decide(form: URLSearchParams, res: ServerResponse): void {
    const request = pending.get(form.get('request') ?? '');
    if (!request) return show(res, 400, '<h1>Request expired</h1>');
    pending.delete(form.get('request')!);
    const back = new URL(request.redirectUri);
    const user = opts.users.find((u) => u.id === form.get('user'));
    if (form.get('deny') || !user) {
      for (const [k, v] of Object.entries({ error: 'access_denied', error_code: '200', error_description: 'Permissions error', error_reason: 'user_denied' })) back.searchParams.set(k, v);
    } else {
      const code = `AQ${randomBytes(32).toString('base64url')}`;
      codes.set(code, { redirectUri: request.redirectUri, user, emailGranted: request.scope.split(',').includes('email') && !form.get('decline_email'), used: false, ...(request.challenge ? { challenge: request.challenge } : {}) });
      back.searchParams.set('code', code);
    }
    back.searchParams.set('state', request.state);
    back.hash = '_=_'; // Facebook appends this to every redirect; clients must ignore it
    res.writeHead(302, { Location: back.href }).end();
  }

  function accessToken(p: URLSearchParams, res: ServerResponse): void {
    if (p.get('client_id') !== opts.appId || p.get('client_secret') !== opts.appSecret) return graphError(res, 400, 'Error validating client secret.', 1);
    const grant = codes.get(p.get('code') ?? '');
    if (!grant) return graphError(res, 400, 'Invalid verification code format.', 100);
    if (grant.used) return graphError(res, 400, 'This authorization code has been used.', 100);
    if (p.get('redirect_uri') !== grant.redirectUri) return graphError(res, 400, 'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request', 100);
    if (grant.challenge && createHash('sha256').update(p.get('code_verifier') ?? '').digest('base64url') !== grant.challenge) {
      return graphError(res, 400, 'Invalid code verifier.', 100);
    }
    grant.used = true;
    const token = `EAA${randomBytes(40).toString('base64url')}`;
    tokens.set(token, { user: grant.user, emailGranted: grant.emailGranted });
    json(res, 200, { access_token: token, token_type: 'bearer', expires_in: 5183944 });
  }

  function me(req: IncomingMessage, p: URLSearchParams, res: ServerResponse): void {
    const token = (req.headers.authorization ?? '').replace(/^(Bearer|OAuth) /, '') || p.get('access_token') || '';
    const session = tokens.get(token);
    if (!session) return graphError(res, 400, 'Invalid OAuth access token data.', 190);
    const expected = createHmac('sha256', opts.appSecret).update(token).digest();
    const given = Buffer.from(p.get('appsecret_proof') ?? '', 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return graphError(res, 400, 'Invalid appsecret_proof provided in the API argument', 100, 'GraphMethodException');
    }
    const fields = (p.get('fields') ?? 'id,name').split(',');
    const { user, emailGranted } = session;
    const body: Record<string, unknown> = { id: user.id };
    if (fields.includes('name')) body.name = user.name;
    if (fields.includes('email') && emailGranted && user.email) body.email = user.email;
    if (fields.includes('picture')) body.picture = { data: { height: 50, width: 50, is_silhouette: false, url: `${state.origin}/pictures/${user.id}.jpg` } };
    json(res, 200, body);
  }

  const listening = await listenOnLoopback(server);
  state.origin = listening.origin;
  state.close = listening.close;
  return state;
}
