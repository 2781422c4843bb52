import { linkToSignedInAccount } from '../accounts/service.ts';
import { BrokerError } from '../errors.ts';
import type { PurposeOpener } from '../interactions/callback.ts';
import { currentSession } from './session.ts';

/** Purpose `account-link`: the upstream callback for a link started on the Account page. */
export const openAccountLink: PurposeOpener<'account-link'> = async (broker, { accountId }) => ({
  retryUrl: '/account',
  async finish(ctx, identity, tokens) {
    const session = await currentSession(broker.provider, ctx);
    // The link was started by this account's session; a different (or no) session now means another browser or person.
    if (session?.accountId !== accountId) throw new BrokerError('state_mismatch', 'account link finished outside the session that started it', { status: 400, retryUrl: '/account' });
    const outcome = await linkToSignedInAccount(broker.db, accountId, identity);
    // A refusal by policy (that identity belongs to another account): 403, like every other.
    if (outcome.kind === 'refused') throw new BrokerError(outcome.reason, 'account link refused', { status: 403, retryUrl: '/account' });
    await broker.tokenVault?.keep(identity.connectorId, identity.subject, tokens);
    ctx.status = 303;
    ctx.redirect(`/account?notice=${outcome.kind}`);
  },
});
