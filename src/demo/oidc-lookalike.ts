import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { freePort } from '../free-port.ts';
import { escapeHtml } from './lookalike-http.ts';

/**
 * A generic OpenID Connect upstream for the demo and the tests: a second oidc-provider
 * instance with a user-picker login page. Like many real providers it puts only `sub` in
 * the ID token and everything else (email, groups) at userinfo. Its cookies have their
 * own names so that, on a shared loopback host, they cannot clobber Doorman's.
 */
export interface OidcLookalikeUser { sub: string; email?: string; email_verified?: boolean; name?: string; preferred_username?: string; groups?: string[] }
export interface OidcLookalike { issuer: string; close(): Promise<void> }

export async function startOidcLookalike(opts: { clientId: string; clientSecret: string; redirectUri: string; users: OidcLookalikeUser[]; host?: string }): Promise<OidcLookalike> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomBytes(6).toString('hex'), alg: 'RS256', use: 'sig' };
  const host = opts.host ?? '127.0.0.1';
  const port = await freePort();
  const issuer = `http://${host}:${port}`;

  const provider = new Provider(issuer, {
    clients: [{ client_id: opts.clientId, client_secret: opts.clientSecret, redirect_uris: [opts.redirectUri], token_endpoint_auth_method: 'client_secret_post' }],
    jwks: { keys: [jwk] as never },
    cookies: { keys: [randomBytes(16).toString('hex')], names: { session: 'lookalike_session', interaction: 'lookalike_interaction', resume: 'lookalike_resume' } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], groups: ['groups'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const user = opts.users.find((u) => u.sub === sub);
      return user ? { accountId: sub, claims: async () => ({ ...user }) } : undefined;
    },
    // Every client of the look-alike is its own: no consent page.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
  });

  provider.use(async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
    if (!match) return next();
    if (ctx.method === 'GET') {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      const buttons = opts.users.map((u) => `<button type="submit" name="sub" value="${escapeHtml(u.sub)}">${escapeHtml(u.name ?? u.sub)}</button>`).join('<br>');
      ctx.type = 'html';
      ctx.body = `<!doctype html><html><head><title>Example OIDC (demo)</title></head><body style="font-family:system-ui;max-width:30rem;margin:3rem auto">
        <h1>Example OIDC: sign in</h1><form method="post" action="/interaction/${escapeHtml(details.uid)}/login">${buttons}</form></body></html>`;
      return;
    }
    const body = await new Promise<string>((ok) => {
      let data = '';
      ctx.req.on('data', (c: Buffer) => { data += c.toString(); });
      ctx.req.on('end', () => ok(data));
    });
    const sub = new URLSearchParams(body).get('sub') ?? '';
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: sub } });
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  const listening = provider.listen(port, host);
  await new Promise((ok) => listening.once('listening', ok));
  return {
    issuer,
    close: async () => {
      listening.closeAllConnections();
      await new Promise((ok) => listening.close(ok));
    },
  };
}
