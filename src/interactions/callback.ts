import type { Context } from 'koa';
import { completeLinkProof, recordUpstreamRefusal, resolveUpstreamLogin } from '../accounts/service.ts';
import { BrokerError } from '../errors.ts';
import { finishAccountLink } from '../self-service/link.ts';
import { UpstreamError, type UpstreamIdentity } from '../upstreams/connector.ts';
import { remainingSeconds, takeState, upstreamCallbackUrl, type Broker } from './broker.ts';
import { takeUpstreamTransaction } from './repository.ts';

/**
 * GET /upstream/:connectorId/callback: the upstream sends the browser back here.
 * Order matters: browser binding (state cookie) → single-use transaction → connector
 * verifies the code and ID token → the purpose's handler. Every failure before the
 * handler writes nothing.
 */
export async function handleUpstreamCallback(broker: Broker, ctx: Context): Promise<void> {
  const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
  if (!takeState(ctx, state)) {
    throw new BrokerError('state_mismatch', 'callback state missing or not bound to this browser', { status: 400 });
  }
  const transaction = await takeUpstreamTransaction(broker.db, state);
  if (!transaction) throw new BrokerError('login_expired', 'upstream transaction unknown, used or expired', { status: 400 });
  const retryUrl = transaction.purpose === 'account-link' ? '/account'
    : transaction.purpose === 'link-proof' ? `/interaction/${transaction.interactionUid}/link` : `/interaction/${transaction.interactionUid}`;
  const connector = broker.connectors.get(transaction.connectorId);
  if (!connector || transaction.connectorId !== ctx.params.connectorId) {
    throw new BrokerError('state_mismatch', `callback for ${ctx.params.connectorId} carries a ${transaction.connectorId} state`, { status: 400, retryUrl });
  }
  const interaction = 'interactionUid' in transaction ? await broker.provider.Interaction.find(transaction.interactionUid) : undefined;
  if ('interactionUid' in transaction && !interaction) throw new BrokerError('interaction_expired', 'interaction gone before the upstream answered', { status: 400 });

  let identity: UpstreamIdentity;
  try {
    identity = await connector.finishLogin({
      callbackUrl: new URL(ctx.originalUrl, broker.config.issuer),
      redirectUri: upstreamCallbackUrl(broker.config, connector.id),
      transaction: transaction.payload,
    });
  } catch (err) {
    const code = err instanceof UpstreamError ? err.code : 'invalid_response';
    if (code === 'domain_not_allowed' || code === 'org_not_allowed') {
      await recordUpstreamRefusal(broker.db, connector.id, code, interaction?.params.client_id as string | undefined);
    }
    throw new BrokerError(code, `upstream ${connector.id} login failed`, { status: code === 'denied' ? 403 : 502, cause: err, retryUrl });
  }

  if (transaction.purpose === 'account-link') return finishAccountLink(broker, ctx, transaction.accountId, identity);
  const clientId = typeof interaction!.params.client_id === 'string' ? interaction!.params.client_id : undefined;
  if (transaction.purpose === 'link-proof') {
    const proof = await completeLinkProof(broker.db, transaction.pendingLinkId, identity, clientId);
    if (proof.kind === 'refused') throw new BrokerError(proof.reason, 'link proof refused', { status: 403, retryUrl });
    return signIn(broker, ctx, interaction!, proof.accountId);
  }
  const upstream = broker.config.upstreams.find((u) => u.id === connector.id)!;
  const client = broker.config.clients.find((c) => c.clientId === clientId);
  const outcome = await resolveUpstreamLogin(broker.db, identity, {
    clientId,
    interactionUid: interaction!.uid,
    policy: { autoLink: upstream.autoLink, allowSignup: upstream.allowSignup && (client?.allowSignup ?? true) },
    offerTtlSeconds: remainingSeconds(broker, interaction!.exp),
  });
  if (outcome.kind === 'refused') throw new BrokerError(outcome.reason, 'account refused', { status: 403, retryUrl });
  if (outcome.kind === 'offer-link') {
    ctx.status = 303;
    ctx.redirect(`/interaction/${interaction!.uid}/link`);
    return;
  }
  return signIn(broker, ctx, interaction!, outcome.accountId);
}

type Interaction = InstanceType<Broker['provider']['Interaction']>;

/**
 * What provider.interactionResult does, minus its cookie lookup: that cookie's path is
 * /interaction/<uid>, so it never reaches this URL. The resume cookie still binds the
 * browser when it follows returnTo.
 */
async function signIn(broker: Broker, ctx: Context, interaction: Interaction, accountId: string): Promise<void> {
  broker.log.info('signed in', { accountId, interaction: interaction.uid });
  interaction.result = { login: { accountId, amr: ['fed'] } };
  await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
  ctx.status = 303;
  ctx.redirect(interaction.returnTo);
}
