import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { BrokerError } from '../errors.ts';
import { UpstreamError } from '../upstreams/connector.ts';
import { saveUpstreamTransaction } from './repository.ts';
import { assertCsrf, connectorsForClient, finish, loadInteraction, stateCookieName, upstreamCallbackUrl, type Broker } from './broker.ts';
import { grantConsent } from './consent.ts';

function clientName(broker: Broker, clientId: unknown): string {
  return broker.config.clients.find((c) => c.clientId === clientId)?.name ?? String(clientId);
}

/** GET /interaction/:uid: the login page, or the consent page, or straight on for first-party apps. */
export async function showInteraction(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  const { uid, prompt, params } = interaction;
  const client = broker.config.clients.find((c) => c.clientId === params.client_id);
  const base = { uid, clientName: clientName(broker, params.client_id), csrf: broker.csrf.tokenFor(uid) };
  if (prompt.name === 'login') {
    const connectors = connectorsForClient(broker, params.client_id).map((c) => ({ id: c.id, displayName: c.displayName }));
    broker.render(ctx, 'login', { title: 'Sign in', connectors, ...base });
    return;
  }
  if (client?.firstParty) {
    return finish(broker, ctx, await grantConsent(broker.provider, interaction));
  }
  const details = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  const scopes = [...(details.missingOIDCScope ?? []), ...(details.missingOIDCClaims ?? [])]
    .filter((s) => s !== 'openid')
    .map((s) => SCOPE_WORDS[s] ?? s);
  broker.render(ctx, 'consent', { title: 'Allow access', scopes: scopes.length ? scopes : ['Your account id'], ...base });
}

const SCOPE_WORDS: Record<string, string> = {
  email: 'Your email address',
  profile: 'Your name, username and picture',
  offline_access: 'Access while you are away (stay signed in)',
};

/** POST /interaction/:uid/upstream/:connectorId: send the browser to the chosen upstream. */
export async function startUpstreamLogin(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  const connector = connectorsForClient(broker, interaction.params.client_id).find((c) => c.id === ctx.params.connectorId);
  const retryUrl = `/interaction/${interaction.uid}`;
  if (!connector) throw new BrokerError('unknown_upstream', `no upstream ${ctx.params.connectorId}`, { status: 404, retryUrl });
  const state = randomBytes(32).toString('base64url');
  let started;
  try {
    started = await connector.startLogin({ redirectUri: upstreamCallbackUrl(broker.config, connector.id), state });
  } catch (err) {
    const code = err instanceof UpstreamError ? err.code : 'unavailable';
    throw new BrokerError(code, `cannot start login at ${connector.id}`, { status: 502, cause: err, retryUrl });
  }
  const ttl = Math.min(broker.config.ttl.interaction, Math.max(1, interaction.exp - Math.floor(Date.now() / 1000)));
  await saveUpstreamTransaction(broker.db, state, { interactionUid: interaction.uid, connectorId: connector.id, payload: started.transaction }, ttl);
  ctx.cookies.set(stateCookieName(state), state, {
    path: '/upstream/', httpOnly: true, sameSite: 'lax', signed: true, maxAge: ttl * 1000, overwrite: true,
  });
  ctx.status = 303;
  ctx.redirect(started.url.href);
}

/** POST /interaction/:uid/abort: the person cancelled; the client gets access_denied. */
export async function abortInteraction(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  return finish(broker, ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' });
}
