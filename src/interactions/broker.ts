import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/outage.ts';
import { BrokerError } from '../errors.ts';
import { ACCOUNT_CLIENT_ID } from '../self-service/session.ts';
import type { Config } from '../config/load.ts';
import type { ClientRegistry } from '../clients/registry.ts';
import type { Db } from '../db/client.ts';
import type { RowsAlreadyRead } from '../oidc/adapter.ts';
import type { Csrf } from '../http/csrf.ts';
import type { Render } from '../http/render.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { observeUpstreamStep } from '../upstream-activity/record.ts';
import type { UpstreamCallNotes } from '../upstream-activity/upstream-call-notes.ts';
import { UpstreamError, type UpstreamConnector, type UpstreamErrorCode } from '../upstreams/connector.ts';
import type { CallbackPurposes } from './callback.ts';
import type { TokenVault } from '../token-vault/vault.ts';
import { saveUpstreamTransaction, type UpstreamPurpose } from './repository.ts';
import { canSatisfy, requiredAcrValues } from '../auth-context/authentication-context.ts';
import { acrValuesOfUpstream } from '../auth-context/upstream-acr.ts';

/** What the interaction handlers need; built once in app.ts. */
export interface Broker {
  provider: Provider;
  db: Db;
  config: Config;
  connectors: Map<string, UpstreamConnector>;
  /** Every app and its settings, config file and database alike (src/clients). */
  clients: ClientRegistry;
  /** Keeps upstream tokens at sign-in for upstreams with storeTokens; undefined when none has it. */
  tokenVault: TokenVault | undefined;
  render: Render;
  csrf: Csrf;
  log: Logger;
  metrics: Metrics;
  /** Where each upstream call on the login path is noted for the Upstreams page (batched writes). */
  upstreamCallNotes: UpstreamCallNotes;
  /** Rows read along by our statements, for oidc-provider's adapter to take (oidc/adapter.ts). */
  rowsAlreadyRead: RowsAlreadyRead;
  /** What the upstream callback does for each purpose; each feature registers its own (callback.ts). */
  callbackPurposes: CallbackPurposes;
}

/** The name people see for an app: its configured name, or for the Account page, what it is. */
export function clientDisplayName(clients: Pick<ClientRegistry, 'get'>, clientId: unknown, accountPageName = 'your Doorman account'): string | undefined {
  if (clientId === ACCOUNT_CLIENT_ID) return accountPageName;
  const client = clients.get(clientId);
  return client?.name ?? client?.clientId ?? (typeof clientId === 'string' ? clientId : undefined);
}

/** What a button for an upstream shows (views/partials/upstream-button.eta). */
export interface UpstreamButton { id: string; displayName: string; brand: 'google' | 'github' | 'facebook' | 'generic'; iconUrl?: string | undefined }

export function upstreamButton(config: Config, connector: UpstreamConnector): UpstreamButton {
  const brand = connector.type === 'google' || connector.type === 'github' || connector.type === 'facebook' ? connector.type : 'generic';
  return { id: connector.id, displayName: connector.displayName, brand, iconUrl: config.upstreams.find((u) => u.id === connector.id)?.iconUrl };
}

/** The upstreams an app's users may use, in config order (clients[].upstreams, default all). */
export function connectorsForClient(broker: Broker, clientId: unknown): UpstreamConnector[] {
  const allowed = broker.clients.get(clientId)?.upstreams;
  return [...broker.connectors.values()].filter((c) => !allowed || allowed.includes(c.id));
}

/**
 * The upstreams that can sign the person in for this authorization request: the app's,
 * narrowed to those that can assert one of its required acr values (auth-context/).
 */
export function connectorsForRequest(broker: Broker, params: Record<string, unknown>): UpstreamConnector[] {
  const required = requiredAcrValues(params);
  return connectorsForClient(broker, params.client_id).filter((c) => canSatisfy(acrValuesOfConnector(broker, c.id), required));
}

export function acrValuesOfConnector(broker: Broker, connectorId: string): readonly string[] {
  const upstream = broker.config.upstreams.find((u) => u.id === connectorId);
  return upstream ? acrValuesOfUpstream(upstream) : [];
}

export function upstreamCallbackUrl(config: Config, connectorId: string): URL {
  return new URL(`${config.issuer}/upstream/${encodeURIComponent(connectorId)}/callback`);
}

/**
 * The browser-binding cookie for upstream logins (RFC 9700 §4.7.1): one cookie, signed,
 * holding the states of this browser's last few unfinished logins, so two tabs do not
 * undo each other. (One cookie per state was tried: Koa's `cookies` caches a RegExp per
 * cookie name for ever, and the soak benchmark showed the process growing ~15 KB a login.)
 */
const STATE_COOKIE = 'doorman.upstream';
const STATE_COOKIE_KEEPS = 4;
// Path '/': the login routes (/interaction/...) add to it and the callback (/upstream/...) reads it.
const stateCookieOptions = { path: '/', httpOnly: true, sameSite: 'lax', signed: true, overwrite: true } as const;

/** The states of this browser's unfinished upstream logins (read once per request: the cookie is signed). */
export function pendingStates(ctx: Context): string[] {
  return (ctx.cookies.get(STATE_COOKIE, { signed: true }) ?? '').split('~').filter(Boolean);
}

export function rememberState(ctx: Context, state: string, ttlSeconds: number): void {
  const states = [...pendingStates(ctx), state].slice(-STATE_COOKIE_KEEPS);
  ctx.cookies.set(STATE_COOKIE, states.join('~'), { ...stateCookieOptions, maxAge: ttlSeconds * 1000 });
}

/** Drops `state` from `states` (this request's pendingStates) in the cookie. */
export function forgetState(ctx: Context, states: readonly string[], state: string): void {
  const rest = states.filter((s) => s !== state);
  ctx.cookies.set(STATE_COOKIE, rest.length ? rest.join('~') : null, stateCookieOptions);
}

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The interaction of this browser; its cookie (path /interaction/<uid>) proves the binding. */
export async function loadInteraction(broker: Broker, ctx: Context): Promise<Interaction> {
  try {
    const interaction = await broker.provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) throw new Error('interaction cookie does not match the URL');
    // The app's ui_locales choose the language of this login's pages (http/render.ts).
    ctx.state.uiLocales = interaction.params.ui_locales;
    return interaction;
  } catch (err) {
    // oidc-provider reports a missing interaction and a database it cannot reach alike, by throwing.
    if (isDatabaseUnavailable(err)) throw err;
    throw new BrokerError('interaction_expired', 'interaction not found for this browser', { status: 400, cause: err });
  }
}

/**
 * The login page itself, never skipped (`?choose`): where "back" leads after a failed
 * login, so a hint or a single upstream does not send the person straight back to it.
 */
export function loginPageUrl(uid: string): string {
  return `/interaction/${uid}?choose`;
}

/** Checks the form's CSRF token (or, for the login page's own redirect, the query's). */
export function assertCsrf(broker: Broker, ctx: Context, uid: string): void {
  const token = ctx.method === 'GET' ? ctx.query.csrf : (ctx.request.body as Record<string, unknown> | undefined)?.csrf;
  if (!broker.csrf.isValid(uid, token)) throw new BrokerError('csrf', 'CSRF token missing or invalid', { status: 403 });
}

/**
 * What provider.interactionResult does (merging with the last submission unless it is an
 * error), on the interaction this request already loaded: interactionResult would verify
 * the cookie and read the interaction and its session again.
 */
export async function finish(ctx: Context, interaction: Interaction, result: InteractionResults): Promise<void> {
  interaction.result = 'error' in result ? result : { ...interaction.lastSubmission, ...result };
  return resume(ctx, interaction);
}

/** Saves the interaction's result and sends the browser back to oidc-provider to carry on. */
export async function resume(ctx: Context, interaction: Interaction): Promise<void> {
  await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
  ctx.status = 303;
  ctx.redirect(interaction.returnTo);
}

/**
 * Sends the browser to `connector` with a fresh state bound to it (signed cookie) and to
 * `purpose` (server-side transaction, single use). Shared by login, link proof and the
 * Account page.
 */
export async function beginUpstreamLogin(broker: Broker, ctx: Context, connector: UpstreamConnector, purpose: UpstreamPurpose, ttlSeconds: number, retryUrl: string, loginHint?: string, acrValues?: readonly string[]): Promise<void> {
  const state = randomBytes(32).toString('base64url');
  let started;
  try {
    started = await observeUpstreamStep(broker, connector.id, 'start', () => connector.startLogin({ redirectUri: upstreamCallbackUrl(broker.config, connector.id), state, loginHint, acrValues })
      .catch((err: unknown) => {
        throw err instanceof UpstreamError ? err : new UpstreamError(connector.id, 'unavailable', String(err), { cause: err });
      }));
  } catch (err) {
    throw upstreamFailure(err as UpstreamError, 'start', retryUrl);
  }
  await saveUpstreamTransaction(broker.db, state, { ...purpose, connectorId: connector.id, payload: started.transaction }, ttlSeconds);
  rememberState(ctx, state, ttlSeconds);
  ctx.status = 303;
  ctx.redirect(started.url.href);
}

/**
 * HTTP status of each upstream failure's page: the person's or a policy's "no" is 403
 * (logged at warn), an upstream that does not answer in time 504, any other upstream
 * trouble 502 (logged at error, for monitoring).
 */
const UPSTREAM_STATUS: Partial<Record<UpstreamErrorCode, number>> = {
  denied: 403, domain_not_allowed: 403, org_not_allowed: 403, expired: 400, timeout: 504,
};

export function upstreamFailure(err: UpstreamError, step: string, retryUrl: string | undefined): BrokerError {
  return new BrokerError(err.code, `upstream ${err.connectorId}: ${step} failed`, { status: UPSTREAM_STATUS[err.code] ?? 502, cause: err, retryUrl });
}

/** Seconds left before the interaction expires, capped by the configured interaction TTL. */
export function remainingSeconds(broker: Broker, exp: number): number {
  return Math.min(broker.config.ttl.interaction, Math.max(1, exp - Math.floor(Date.now() / 1000)));
}
