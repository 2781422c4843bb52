import type { Context } from 'koa';
import { signInWithIdentity } from '../accounts/service.ts';
import { BrokerError } from '../errors.ts';
import { UpstreamError } from '../upstreams/connector.ts';
import { takeUpstreamTransaction } from './repository.ts';
import { stateCookieName, upstreamCallbackUrl, type Broker } from './broker.ts';

/**
 * GET /upstream/:connectorId/callback: the upstream sends the browser back here.
 * Order matters: browser binding (state cookie) → single-use transaction → interaction
 * still alive → connector verifies the code and ID token → account mapping. Every
 * failure before the last step writes nothing.
 */
export async function handleUpstreamCallback(broker: Broker, ctx: Context): Promise<void> {
  const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
  const cookie = state ? ctx.cookies.get(stateCookieName(state), { signed: true }) : undefined;
  if (!state || cookie !== state) {
    throw new BrokerError('state_mismatch', 'callback state missing or not bound to this browser', { status: 400 });
  }
  ctx.cookies.set(stateCookieName(state), null, { path: '/upstream/', signed: true });
  const transaction = await takeUpstreamTransaction(broker.db, state);
  if (!transaction) throw new BrokerError('login_expired', 'upstream transaction unknown, used or expired', { status: 400 });
  const retryUrl = `/interaction/${transaction.interactionUid}`;
  const connector = broker.connectors.get(transaction.connectorId);
  // The transaction was only created for an upstream this client allows (startUpstreamLogin).
  if (!connector || transaction.connectorId !== ctx.params.connectorId) {
    throw new BrokerError('state_mismatch', `callback for ${ctx.params.connectorId} carries a ${transaction.connectorId} state`, { status: 400, retryUrl });
  }
  const interaction = await broker.provider.Interaction.find(transaction.interactionUid);
  if (!interaction) throw new BrokerError('interaction_expired', 'interaction gone before the upstream answered', { status: 400 });

  let identity;
  try {
    identity = await connector.finishLogin({
      callbackUrl: new URL(ctx.originalUrl, broker.config.issuer),
      redirectUri: upstreamCallbackUrl(broker.config, connector.id),
      transaction: transaction.payload,
    });
  } catch (err) {
    const code = err instanceof UpstreamError ? err.code : 'invalid_response';
    throw new BrokerError(code, `upstream ${connector.id} login failed`, { status: code === 'denied' ? 403 : 502, cause: err, retryUrl });
  }

  const clientId = typeof interaction.params.client_id === 'string' ? interaction.params.client_id : undefined;
  const outcome = await signInWithIdentity(broker.db, identity, clientId);
  if (outcome.kind === 'refused') throw new BrokerError(outcome.reason, 'account refused', { status: 403 });

  broker.log.info('signed in', { connector: connector.id, accountId: outcome.accountId, created: outcome.created, interaction: interaction.uid });
  // What provider.interactionResult does, minus its cookie lookup: that cookie's path is
  // /interaction/<uid>, so it never reaches this URL. The resume cookie still binds the
  // browser when it follows returnTo.
  interaction.result = { login: { accountId: outcome.accountId, amr: ['fed'] } };
  await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
  ctx.status = 303;
  ctx.redirect(interaction.returnTo);
}
