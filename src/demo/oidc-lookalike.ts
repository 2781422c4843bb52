import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Adapter, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';
import { freePort } from '../free-port.ts';
import { escapeHtml, lookalikeHtml } from './lookalike-http.ts';

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
    adapter: memoryAdapter(),
    // Doorman's upstream sign-out (src/logout/upstream-sign-out.ts) returns beside its callback.
    clients: [{
      client_id: opts.clientId, client_secret: opts.clientSecret, redirect_uris: [opts.redirectUri], token_endpoint_auth_method: 'client_secret_post',
      post_logout_redirect_uris: [opts.redirectUri.replace(/\/callback$/, '/signed-out')],
    }],
    jwks: { keys: [jwk] as never },
    cookies: { keys: [randomBytes(16).toString('hex')], names: { session: 'lookalike_session', interaction: 'lookalike_interaction', resume: 'lookalike_resume' } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], groups: ['groups'] },
    features: { devInteractions: { enabled: false } },
    // Lifetimes said outright: oidc-provider prints a notice whenever one of its defaults is
    // used, and a demo should print nothing but what the person needs.
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
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
      ctx.body = lookalikeHtml(`<h1>Example OIDC: sign in</h1><form method="post" action="/interaction/${escapeHtml(details.uid)}/login">${buttons}</form>`, 'Demo OIDC provider (look-alike)');
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

/**
 * The look-alike keeps its state in memory (a demo and test double; said here so
 * oidc-provider does not warn the person running the demo about its default one).
 */
function memoryAdapter(): (model: string) => Adapter {
  const rows = new Map<string, { payload: AdapterPayload; expires: number }>();
  return (model) => {
    const key = (id: string) => `${model}:${id}`;
    const live = (id: string) => {
      const row = rows.get(key(id));
      return row && row.expires > Date.now() ? row.payload : undefined;
    };
    const findWhere = (field: 'uid' | 'userCode', value: string) => {
      for (const [k, row] of rows) if (k.startsWith(`${model}:`) && row.payload[field] === value && row.expires > Date.now()) return row.payload;
      return undefined;
    };
    return {
      async upsert(id, payload, expiresIn) { rows.set(key(id), { payload, expires: Date.now() + (expiresIn ?? 3600) * 1000 }); },
      async find(id) { return live(id); },
      async findByUid(uid) { return findWhere('uid', uid); },
      async findByUserCode(code) { return findWhere('userCode', code); },
      async consume(id) { const p = live(id); if (p) p.consumed = Math.floor(Date.now() / 1000); },
      async destroy(id) { rows.delete(key(id)); },
      async revokeByGrantId(grantId) { for (const [k, row] of rows) if (row.payload.grantId === grantId) rows.delete(k); },
    };
  };
}

