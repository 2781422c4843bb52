import type { Context } from 'koa';
import { findPendingLinkForInteraction, listIdentities } from '../accounts/repository.ts';
import { completeLinkProof } from '../accounts/service.ts';
import { BrokerError } from '../errors.ts';
import { acrValuesOfConnector, assertCsrf, beginUpstreamLogin, loginPageUrl, upstreamButton, connectorsForRequest, loadInteraction, remainingSeconds, type Broker } from './broker.ts';
import type { PurposeOpener } from './callback.ts';
import { findCallbackInteraction, interactionClientId, refuseUnmetAcr, signIn } from './sign-in.ts';
import { acrValuesToAsk, loginAuthentication, requiredAcrValues } from '../auth-context/authentication-context.ts';

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
  const proofConnectors = connectorsForRequest(broker, interaction.params).filter((c) => providers.has(c.id));
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
  const acrValues = acrValuesToAsk(acrValuesOfConnector(broker, connector.id), requiredAcrValues(interaction.params));
  await beginUpstreamLogin(broker, ctx, connector, { purpose: 'link-proof', interactionUid: interaction.uid, pendingLinkId: pending.id }, remainingSeconds(broker, interaction.exp), retryUrl, undefined, acrValues);
}

/** Purpose `link-proof`: the person signed in with one of the account's identities; link and sign in. */
export const openLinkProof: PurposeOpener<'link-proof'> = async (broker, transaction) => {
  const interaction = await findCallbackInteraction(broker, transaction.interactionUid);
  const clientId = interactionClientId(interaction);
  const retryUrl = `/interaction/${interaction.uid}/link`;
  return {
    retryUrl,
    clientId,
    uiLocales: interaction.params.ui_locales,
    async finish(ctx, identity) {
      // The proof is the login that signs the person in, so it is the one that must meet the app's acr.
      const authentication = loginAuthentication(identity.authentication, requiredAcrValues(interaction.params));
      if ('unmet' in authentication) return refuseUnmetAcr(broker, ctx, interaction, authentication.unmet);
      const proof = await completeLinkProof(broker.db, transaction.pendingLinkId, identity, clientId);
      broker.metrics.countLinkDecision(proof.kind === 'linked' ? 'proof_linked' : 'proof_refused', proof.kind === 'refused' ? proof.reason : undefined);
      if (proof.kind === 'refused') throw new BrokerError(proof.reason, 'link proof refused', { status: 403, retryUrl });
      return signIn(broker, ctx, interaction, proof.accountId, identity.connectorId, authentication);
    },
  };
};
