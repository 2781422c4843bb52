import type { Context } from 'koa';
import { findPendingLink, findPendingLinkForInteraction, listIdentities } from '../accounts/repository.ts';
import { completeLinkProof } from '../accounts/service.ts';
import { BrokerError } from '../errors.ts';
import { assertCsrf, beginUpstreamLogin, loginPageUrl, upstreamButton, connectorsForClient, loadInteraction, remainingSeconds, type Broker } from './broker.ts';
import type { PurposeOpener } from './callback.ts';
import { findCallbackInteraction, interactionClientId, refuseUnmetAcr, signIn } from './sign-in.ts';
import { loginAuthentication, requiredAcrValues } from '../auth-context/authentication-context.ts';

/**
 * The offer to link a first-time identity to the existing account with the same email.
 * The person proves they own that account by signing in, in this same flow, with one of
 * its identities (as Keycloak's first-broker-login does); nothing is linked before.
 */
async function loadOffer(broker: Broker, ctx: Context) {
  const interaction = await loadInteraction(broker, ctx);
  const pending = await findPendingLinkForInteraction(broker.db, interaction.uid);
  if (!pending) throw new BrokerError('link_expired', 'no pending link for this interaction', { status: 400, retryUrl: loginPageUrl(interaction.uid) });
  const providers = new Set((await Promise.all(pending.candidates.map((id) => listIdentities(broker.db, id)))).flat().map((i) => i.provider));
  const proofConnectors = connectorsForClient(broker, interaction.params.client_id).filter((c) => providers.has(c.id));
  return { interaction, pending, proofConnectors };
}

/** GET /interaction/:uid/link */
export async function showLinkOffer(broker: Broker, ctx: Context): Promise<void> {
  const { interaction, pending, proofConnectors } = await loadOffer(broker, ctx);
  const via = broker.connectors.get(pending.identity.connectorId)?.displayName ?? pending.identity.connectorId;
  broker.render(ctx, 'link-confirm', {
    uid: interaction.uid,
    csrf: broker.csrf.tokenFor(interaction.uid),
    via,
    email: pending.identity.email,
    connectors: proofConnectors.map((c) => upstreamButton(broker.config, c)),
  });
}

/** POST /interaction/:uid/link/:connectorId: go prove ownership with that upstream. */
export async function startLinkProof(broker: Broker, ctx: Context): Promise<void> {
  const { interaction, pending, proofConnectors } = await loadOffer(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  const retryUrl = `/interaction/${interaction.uid}/link`;
  const connector = proofConnectors.find((c) => c.id === ctx.params.connectorId);
  if (!connector) throw new BrokerError('unknown_upstream', `${ctx.params.connectorId} cannot prove this link`, { status: 404, retryUrl });
  await beginUpstreamLogin(broker, ctx, connector, { purpose: 'link-proof', interactionUid: interaction.uid, pendingLinkId: pending.id }, remainingSeconds(broker, interaction.exp), retryUrl);
}

/** Purpose `link-proof`: the person signed in with one of the account's identities; link and sign in. */
export const openLinkProof: PurposeOpener<'link-proof'> = async (broker, transaction) => {
  const interaction = await findCallbackInteraction(broker, transaction);
  const clientId = interactionClientId(interaction);
  const retryUrl = `/interaction/${interaction.uid}/link`;
  return {
    retryUrl,
    clientId,
    uiLocales: interaction.params.ui_locales,
    async finish(ctx, identity) {
      // amr/acr are those of the first login, with the identity being linked: it had to meet the
      // app's acr (sign-in.ts), and the proof only shows that the account is the person's, so
      // an account whose own upstreams cannot assert that acr can still be proven.
      const pending = await findPendingLink(broker.db, transaction.pendingLinkId);
      if (!pending) throw new BrokerError('link_expired', 'pending link gone before the proof came back', { status: 400, retryUrl: loginPageUrl(interaction.uid) });
      const authentication = loginAuthentication(pending.identity.authentication, requiredAcrValues(interaction.params));
      if ('unmet' in authentication) return refuseUnmetAcr(broker, ctx, interaction, authentication.unmet);
      const proof = await completeLinkProof(broker.db, transaction.pendingLinkId, identity, clientId);
      broker.metrics.countLinkDecision(proof.kind === 'linked' ? 'proof_linked' : 'proof_refused', proof.kind === 'refused' ? proof.reason : undefined);
      if (proof.kind === 'refused') throw new BrokerError(proof.reason, 'link proof refused', { status: 403, retryUrl });
      return signIn(broker, ctx, interaction, proof.accountId, identity.connectorId, authentication);
    },
  };
};
