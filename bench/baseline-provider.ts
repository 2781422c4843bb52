import { randomBytes } from 'node:crypto';
import Provider, { type Adapter, type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider';
import type { JWK } from 'jose';
import { grantConsent } from '../src/interactions/consent.ts';

/**
 * The baselines: bare oidc-provider (the version Doorman runs) whose interaction signs a
 * fixed account in at once and whose first-party clients skip consent, as Doorman's do.
 * Same features, clients and keys as Doorman; only the broker is missing.
 */
export const BASELINE_ACCOUNT = 'baseline-account';

export function createBaselineProvider(issuer: string, opts: { adapter: (model: string) => Adapter; clients: ClientMetadata[]; jwks: { keys: JWK[] } }): Provider {
  const provider = new Provider(issuer, {
    adapter: opts.adapter,
    clients: opts.clients,
    jwks: opts.jwks as never,
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture', 'preferred_username'] },
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false }, revocation: { enabled: true }, introspection: { enabled: true }, clientCredentials: { enabled: true } },
    rotateRefreshToken: true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub, email: 'baseline@example.com', email_verified: true, name: 'Baseline' }) };
    },
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const grantId = ctx.oidc.result?.consent?.grantId as string | undefined ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
  });
  provider.use(async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
    if (!match) return next();
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    // An explicit prompt=consent (offline_access) is approved at once, as Doorman does for first-party apps.
    const result = interaction.prompt.name === 'consent' ? await grantConsent(provider, interaction) : { login: { accountId: BASELINE_ACCOUNT } };
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result);
    ctx.status = 303;
    ctx.redirect(returnTo);
  });
  return provider;
}
