import type { Context } from 'koa';
import { describeScopes } from '../consents/scope-words.ts';
import { BrokerError } from '../errors.ts';
import { acrValuesOfConnector, type Interaction, assertCsrf, beginUpstreamLogin, clientDisplayName, connectorsForRequest, finish, loadInteraction, loginPageUrl, remainingSeconds, upstreamButton, type Broker } from './broker.ts';
import { grantConsent } from './consent.ts';
import { acrValuesToAsk, requiredAcrValues } from '../auth-context/authentication-context.ts';
import { hintsFrom, orderForChooser, upstreamToSkipTo } from './upstream-choice.ts';
import { countLoginStart } from '../rate-limits/login-page-start.ts';
import type { UpstreamConnector } from '../upstreams/connector.ts';

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
  const base = { uid, clientName: clientDisplayName(broker.clients, params.client_id, t('client.account')), csrf: broker.csrf.tokenFor(uid) };
  if (prompt.name === 'login') {
    // Usually skipped already at the authorization request (direct-start.ts); here when the
    // person comes back to this page, or the start there failed and is tried again.
    const skipped = ctx.query.choose === undefined ? upstreamWithoutChoice(broker, params) : undefined;
    if (skipped) {
      // Started here, not through a redirect to the button's URL (one round trip less):
      // the same start (state, transaction) and the same count against loginStartsPerIp.
      if (await countLoginStart(ctx)) await sendToUpstream(broker, ctx, interaction, skipped);
      return;
    }
    const buttons = connectorsForRequest(broker, params).map((c) => upstreamButton(broker.config, c));
    const { lastUsed, others } = orderForChooser(buttons, ctx.cookies.get(LAST_UPSTREAM_COOKIE));
    broker.render(ctx, 'login', { lastUsed, connectors: others, ...base });
    return;
  }
  if (broker.clients.firstParty.has(String(params.client_id))) {
    return finish(ctx, interaction, await grantConsent(broker.provider, interaction));
  }
  const details = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  // An API's scopes (README "Access tokens for APIs") are listed by name: the person allows them too.
  const apiScopes = Object.values(details.missingResourceScopes ?? {}).flat();
  const scopes = describeScopes([...(details.missingOIDCScope ?? []), ...(details.missingOIDCClaims ?? []), ...apiScopes]);
  broker.render(ctx, 'consent', { scopes: scopes.length ? scopes : ['scope.openid'], ...base });
}

/**
 * The upstream a login goes to without the login page (upstream-choice.ts: the only one,
 * or the one a hint names), or undefined when the person chooses. Only upstreams that can
 * meet the app's acr_values count (acr-check.ts refused the request when none can).
 */
export function upstreamWithoutChoice(broker: Broker, params: Record<string, unknown>): UpstreamConnector | undefined {
  if (!broker.config.ui.skipLoginPage) return undefined;
  const allowed = connectorsForRequest(broker, params);
  const options = allowed.map((c) => ({ id: c.id, domains: broker.config.upstreams.find((u) => u.id === c.id)?.domains ?? [] }));
  const skipTo = upstreamToSkipTo(options, hintsFrom(params));
  return skipTo === undefined ? undefined : allowed.find((c) => c.id === skipTo);
}

/**
 * POST /interaction/:uid/upstream/:connectorId (a button), or GET with ?csrf= (the login
 * page skipped): send the browser to that upstream, with the app's login_hint.
 */
export async function startUpstreamLogin(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  const connector = connectorsForRequest(broker, interaction.params).find((c) => c.id === ctx.params.connectorId);
  if (!connector) throw new BrokerError('unknown_upstream', `no upstream ${ctx.params.connectorId}`, { status: 404, retryUrl: loginPageUrl(interaction.uid) });
  await sendToUpstream(broker, ctx, interaction, connector);
}

export async function sendToUpstream(broker: Broker, ctx: Context, interaction: Pick<Interaction, 'uid' | 'params' | 'exp'>, connector: UpstreamConnector): Promise<void> {
  const retryUrl = loginPageUrl(interaction.uid);
  const { loginHint } = hintsFrom(interaction.params);
  const acrValues = acrValuesToAsk(acrValuesOfConnector(broker, connector.id), requiredAcrValues(interaction.params));
  await beginUpstreamLogin(broker, ctx, connector, { purpose: 'login', interactionUid: interaction.uid }, remainingSeconds(broker, interaction.exp), retryUrl, loginHint, acrValues);
}

/** POST /interaction/:uid/abort: the person cancelled; the client gets access_denied. */
export async function abortInteraction(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  return finish(ctx, interaction, { error: 'access_denied', error_description: 'End-User aborted interaction' });
}
