import type { Context } from 'koa';
import { describeScopes } from '../consents/scope-words.ts';
import { BrokerError } from '../errors.ts';
import { assertCsrf, beginUpstreamLogin, clientDisplayName, connectorsForClient, finish, loadInteraction, loginPageUrl, remainingSeconds, upstreamButton, type Broker } from './broker.ts';
import { grantConsent } from './consent.ts';
import { hintsFrom, orderForChooser, upstreamToSkipTo } from './upstream-choice.ts';

/**
 * The upstream this browser last signed in with: only its id, to offer it first on the
 * next login page. Path /interaction/: the login page is the only reader.
 */
const LAST_UPSTREAM_COOKIE = 'doorman.last_upstream';
const LAST_UPSTREAM_DAYS = 365;

export function rememberUpstream(ctx: Context, connectorId: string): void {
  ctx.cookies.set(LAST_UPSTREAM_COOKIE, connectorId, { path: '/interaction/', httpOnly: true, sameSite: 'lax', signed: false, overwrite: true, maxAge: LAST_UPSTREAM_DAYS * 86_400_000 });
}

/**
 * GET /interaction/:uid: straight to the upstream when there is nothing to choose (one
 * upstream, or a hint, upstream-choice.ts), else the login page; or the consent page, or
 * straight on for first-party apps.
 */
export async function showInteraction(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  const { uid, prompt, params } = interaction;
  const t = broker.render.translatorFor(ctx);
  const base = { uid, clientName: clientDisplayName(broker.config, params.client_id, t('client.account')), csrf: broker.csrf.tokenFor(uid) };
  if (prompt.name === 'login') {
    const allowed = connectorsForClient(broker, params.client_id);
    const options = allowed.map((c) => ({ id: c.id, domains: broker.config.upstreams.find((u) => u.id === c.id)?.domains ?? [] }));
    const skipTo = broker.config.ui.skipLoginPage && ctx.query.choose === undefined ? upstreamToSkipTo(options, hintsFrom(params)) : undefined;
    if (skipTo) {
      // Through the same start as a button (state, transaction, rate limit on login starts).
      ctx.status = 303;
      ctx.redirect(`/interaction/${uid}/upstream/${encodeURIComponent(skipTo)}?csrf=${encodeURIComponent(base.csrf)}`);
      return;
    }
    const buttons = allowed.map((c) => upstreamButton(broker.config, c));
    const { lastUsed, others } = orderForChooser(buttons, ctx.cookies.get(LAST_UPSTREAM_COOKIE));
    broker.render(ctx, 'login', { lastUsed, connectors: others, ...base });
    return;
  }
  if (broker.firstParty.has(String(params.client_id))) {
    return finish(broker, ctx, await grantConsent(broker.provider, interaction));
  }
  const details = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  // An API's scopes (README "Access tokens for APIs") are listed by name: the person allows them too.
  const apiScopes = Object.values(details.missingResourceScopes ?? {}).flat();
  const scopes = describeScopes([...(details.missingOIDCScope ?? []), ...(details.missingOIDCClaims ?? []), ...apiScopes]);
  broker.render(ctx, 'consent', { scopes: scopes.length ? scopes : ['scope.openid'], ...base });
}

/**
 * POST /interaction/:uid/upstream/:connectorId (a button), or GET with ?csrf= (the login
 * page skipped): send the browser to that upstream, with the app's login_hint.
 */
export async function startUpstreamLogin(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  const retryUrl = loginPageUrl(interaction.uid);
  const connector = connectorsForClient(broker, interaction.params.client_id).find((c) => c.id === ctx.params.connectorId);
  if (!connector) throw new BrokerError('unknown_upstream', `no upstream ${ctx.params.connectorId}`, { status: 404, retryUrl });
  const { loginHint } = hintsFrom(interaction.params);
  await beginUpstreamLogin(broker, ctx, connector, { purpose: 'login', interactionUid: interaction.uid }, remainingSeconds(broker, interaction.exp), retryUrl, loginHint);
}

/** POST /interaction/:uid/abort: the person cancelled; the client gets access_denied. */
export async function abortInteraction(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  return finish(broker, ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' });
}
