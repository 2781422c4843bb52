import type { Context } from 'koa';
import { recordUpstreamRefusal } from '../accounts/service.ts';
import { BrokerError } from '../errors.ts';
import { loginFailureOf } from '../metrics/login-outcome.ts';
import type { LoginLabels } from '../metrics/metrics.ts';
import { observeUpstreamStep } from '../upstream-activity/record.ts';
import { UpstreamError, type UpstreamIdentity, type UpstreamLogin, type UpstreamTokens } from '../upstreams/connector.ts';
import { forgetState, pendingStates, upstreamCallbackUrl, upstreamFailure, type Broker } from './broker.ts';
import { takeUpstreamTransaction, type UpstreamTransaction } from './repository.ts';

/**
 * A purpose the browser can be sent upstream for (sign-in, link proof, linking from the
 * Account page). The feature that owns it registers an opener, which loads what the
 * purpose needs before the upstream is asked anything (throwing when it is gone) and
 * returns what to do with the verified identity.
 */
export interface OpenedPurpose {
  /** Where an error page sends the person back to. */
  retryUrl: string;
  /** The app the login is for, when there is one (audit of refusals). */
  clientId?: string | undefined;
  /** The app's ui_locales, for the language of an error page (http/render.ts). */
  uiLocales?: unknown;
  /**
   * Resolves 'link-offered' when the login now waits for a link proof rather than being done,
   * 'acr-unmet' when the app was told the login did not meet its acr_values (sign-in.ts).
   * `tokens` are the upstream's; only sign-in keeps them (src/token-vault), for upstreams with storeTokens.
   */
  finish(ctx: Context, identity: UpstreamIdentity, tokens: UpstreamTokens): Promise<CallbackDone>;
}
type PurposeName = UpstreamTransaction['purpose'];
export type PurposeOpener<P extends PurposeName> = (broker: Broker, transaction: Extract<UpstreamTransaction, { purpose: P }>) => Promise<OpenedPurpose>;
export type CallbackPurposes = { [P in PurposeName]?: PurposeOpener<P> };

export function registerCallbackPurpose<P extends PurposeName>(broker: Broker, purpose: P, open: PurposeOpener<P>): void {
  (broker.callbackPurposes as Record<P, PurposeOpener<P>>)[purpose] = open;
}

/**
 * GET /upstream/:connectorId/callback: the upstream sends the browser back here.
 * Order matters: browser binding (state cookie) → single-use transaction → the purpose
 * opens → connector verifies the code and ID token → the purpose finishes. Every failure
 * before the purpose finishes writes nothing but the audit of a policy refusal.
 */
export async function handleUpstreamCallback(broker: Broker, ctx: Context): Promise<void> {
  // Filled in as the callback learns them; the one place every callback's outcome is counted.
  const seen: CallbackLabels = { upstream: ctx.params.connectorId, client: undefined, purpose: undefined };
  try {
    const done = await finishUpstreamCallback(broker, ctx, seen);
    if (done === 'acr-unmet') broker.metrics.countLogin({ ...seen, outcome: 'refused', reason: 'unmet_authentication_requirements' });
    else broker.metrics.countLogin({ ...seen, outcome: done === 'link-offered' ? 'link_offered' : 'success' });
  } catch (err) {
    broker.metrics.countLogin({ ...seen, ...loginFailureOf(err) });
    throw err;
  }
}

type CallbackLabels = Omit<LoginLabels, 'outcome' | 'reason'>;

type CallbackDone = void | 'link-offered' | 'acr-unmet';

async function finishUpstreamCallback(broker: Broker, ctx: Context, seen: CallbackLabels): Promise<CallbackDone> {
  const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
  const states = pendingStates(ctx);
  // This browser started the login with `state`.
  if (state === '' || !states.includes(state)) {
    // A callback URL seen in another browser (leaked, or planted) burns its login, so the
    // same URL cannot complete anywhere afterwards (RFC 9700 §4.7, §4.5).
    if (state) await takeUpstreamTransaction(broker.db, state);
    throw new BrokerError('state_mismatch', 'callback state missing or not bound to this browser', { status: 400 });
  }
  const transaction = await takeUpstreamTransaction(broker.db, state);
  // Only now: had the database been unreachable, the browser could retry this same URL.
  forgetState(ctx, states, state);
  if (!transaction) throw new BrokerError('login_expired', 'upstream transaction unknown, used or expired', { status: 400 });
  const open = broker.callbackPurposes[transaction.purpose] as PurposeOpener<PurposeName> | undefined;
  if (!open) throw new Error(`no handler registered for upstream purpose ${transaction.purpose}`);
  seen.purpose = transaction.purpose;
  const purpose = await open(broker, transaction);
  seen.client = purpose.clientId;
  ctx.state.uiLocales = purpose.uiLocales;
  const connector = broker.connectors.get(transaction.connectorId);
  if (!connector || transaction.connectorId !== ctx.params.connectorId) {
    throw new BrokerError('state_mismatch', `callback for ${ctx.params.connectorId} carries a ${transaction.connectorId} state`, { status: 400, retryUrl: purpose.retryUrl });
  }

  let login: UpstreamLogin;
  try {
    login = await observeUpstreamStep(broker, connector.id, 'callback', () => connector.finishLogin({
      callbackUrl: new URL(ctx.originalUrl, broker.config.issuer),
      redirectUri: upstreamCallbackUrl(broker.config, connector.id),
      transaction: transaction.payload,
    }).catch((err: unknown) => {
      throw err instanceof UpstreamError ? err : new UpstreamError(connector.id, 'invalid_response', String(err), { cause: err });
    }));
  } catch (err) {
    const failure = err as UpstreamError;
    if (failure.code === 'domain_not_allowed' || failure.code === 'org_not_allowed') {
      await recordUpstreamRefusal(broker.db, connector.id, failure.code, purpose.clientId);
    }
    throw upstreamFailure(failure, 'callback', purpose.retryUrl);
  }
  return purpose.finish(ctx, login.identity, login.tokens);
}
