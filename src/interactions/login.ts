import type { Context } from 'koa';
import { describeScopes } from '../consents/scope-words.ts';
import { BrokerError } from '../errors.ts';
import { assertCsrf, beginUpstreamLogin, clientDisplayName, connectorsForClient, finish, loadInteraction, remainingSeconds, type Broker } from './broker.ts';
import { grantConsent } from './consent.ts';

/** GET /interaction/:uid: the login page, or the consent page, or straight on for first-party apps. */
export async function showInteraction(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  const { uid, prompt, params } = interaction;
  const base = { uid, clientName: clientDisplayName(broker.config, params.client_id), csrf: broker.csrf.tokenFor(uid) };
  if (prompt.name === 'login') {
    const connectors = connectorsForClient(broker, params.client_id).map((c) => ({ id: c.id, displayName: c.displayName }));
    broker.render(ctx, 'login', { title: 'Sign in', connectors, ...base });
    return;
  }
  if (broker.firstParty.has(String(params.client_id))) {
    return finish(broker, ctx, await grantConsent(broker.provider, interaction));
  }
  const details = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  const scopes = describeScopes([...(details.missingOIDCScope ?? []), ...(details.missingOIDCClaims ?? [])]);
  broker.render(ctx, 'consent', { title: 'Allow access', scopes: scopes.length ? scopes : ['Your account id'], ...base });
}

/** POST /interaction/:uid/upstream/:connectorId: send the browser to the chosen upstream. */
export async function startUpstreamLogin(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  const retryUrl = `/interaction/${interaction.uid}`;
  const connector = connectorsForClient(broker, interaction.params.client_id).find((c) => c.id === ctx.params.connectorId);
  if (!connector) throw new BrokerError('unknown_upstream', `no upstream ${ctx.params.connectorId}`, { status: 404, retryUrl });
  await beginUpstreamLogin(broker, ctx, connector, { purpose: 'login', interactionUid: interaction.uid }, remainingSeconds(broker, interaction.exp), retryUrl);
}

/** POST /interaction/:uid/abort: the person cancelled; the client gets access_denied. */
export async function abortInteraction(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  return finish(broker, ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' });
}
