import type { Context } from 'koa';
import { linkToSignedInAccount } from '../accounts/service.ts';
import { BrokerError } from '../errors.ts';
import type { Broker } from '../interactions/broker.ts';
import type { UpstreamIdentity } from '../upstreams/connector.ts';
import { currentSession } from './session.ts';

/** The upstream callback for a link started on the Account page. */
export async function finishAccountLink(broker: Broker, ctx: Context, accountId: string, identity: UpstreamIdentity): Promise<void> {
  const session = await currentSession(broker.provider, ctx);
  // The link was started by this account's session; a different (or no) session now means another browser or person.
  if (session?.accountId !== accountId) throw new BrokerError('state_mismatch', 'account link finished outside the session that started it', { status: 400, retryUrl: '/account' });
  const outcome = await linkToSignedInAccount(broker.db, accountId, identity);
  if (outcome.kind === 'refused') throw new BrokerError(outcome.reason, 'account link refused', { status: 409, retryUrl: '/account' });
  ctx.status = 303;
  ctx.redirect(`/account?notice=${outcome.kind}`);
}
