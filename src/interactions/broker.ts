import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { BrokerError } from '../errors.ts';
import type { Config } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import type { Csrf } from '../http/csrf.ts';
import type { Render } from '../http/render.ts';
import type { Logger } from '../log.ts';
import type { UpstreamConnector } from '../upstreams/connector.ts';

/** What the interaction handlers need; built once in app.ts. */
export interface Broker {
  provider: Provider;
  db: Db;
  config: Config;
  connectors: Map<string, UpstreamConnector>;
  render: Render;
  csrf: Csrf;
  log: Logger;
}

/** The upstreams an app's users may use, in config order (clients[].upstreams, default all). */
export function connectorsForClient(broker: Broker, clientId: unknown): UpstreamConnector[] {
  const allowed = broker.config.clients.find((c) => c.clientId === clientId)?.upstreams;
  return [...broker.connectors.values()].filter((c) => !allowed || allowed.includes(c.id));
}

export function upstreamCallbackUrl(config: Config, connectorId: string): URL {
  return new URL(`${config.issuer}/upstream/${encodeURIComponent(connectorId)}/callback`);
}

/**
 * The browser-binding cookie for one upstream login. One cookie per state (named after a
 * prefix of it) so two logins in two tabs do not overwrite each other. RFC 9700 §4.7.1.
 */
export function stateCookieName(state: string): string {
  return `doorman.upstream.${state.slice(0, 12)}`;
}

/** The interaction of this browser; its cookie (path /interaction/<uid>) proves the binding. */
export async function loadInteraction(broker: Broker, ctx: Context) {
  try {
    const interaction = await broker.provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) throw new Error('interaction cookie does not match the URL');
    return interaction;
  } catch (err) {
    throw new BrokerError('interaction_expired', 'interaction not found for this browser', { status: 400, cause: err });
  }
}

export function assertCsrf(broker: Broker, ctx: Context, uid: string): void {
  const token = (ctx.request.body as Record<string, unknown> | undefined)?.csrf;
  if (!broker.csrf.isValid(uid, token)) throw new BrokerError('csrf', 'CSRF token missing or invalid', { status: 403 });
}

export async function finish(broker: Broker, ctx: Context, result: InteractionResults): Promise<void> {
  const returnTo = await broker.provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: !('error' in result) });
  ctx.status = 303;
  ctx.redirect(returnTo);
}
