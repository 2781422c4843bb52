import type { Context } from 'koa';
import type { AdapterPayload } from 'oidc-provider';
import { resolveUpstreamLogin } from '../accounts/service.ts';
import { BrokerError } from '../errors.ts';
import { linkDecisionOf } from '../metrics/login-outcome.ts';
import { loginPageUrl, remainingSeconds, resume, type Broker } from './broker.ts';
import { rememberUpstream } from './login.ts';
import type { OpenedPurpose, PurposeOpener } from './callback.ts';
import { rememberSignInUpstream } from '../logout/upstream-sign-out.ts';
import { loginAuthentication, requiredAcrValues } from '../auth-context/authentication-context.ts';

type Interaction = InstanceType<Broker['provider']['Interaction']>;

/**
 * The interaction an upstream login was started for; gone means the person took too long.
 * The transaction's take read its row already: oidc-provider's find takes it from there.
 */
export async function findCallbackInteraction(broker: Broker, transaction: { interactionUid: string; interactionRow?: AdapterPayload | undefined }): Promise<Interaction> {
  const uid = transaction.interactionUid;
  // No row read along: the interaction was gone (expired) when the transaction was taken.
  if (transaction.interactionRow) broker.rowsAlreadyRead.put('Interaction', uid, transaction.interactionRow);
  const interaction = transaction.interactionRow ? await broker.provider.Interaction.find(uid) : undefined;
  if (!interaction) throw new BrokerError('interaction_expired', 'interaction gone before the upstream answered', { status: 400 });
  return interaction;
}

export function interactionClientId(interaction: Interaction): string | undefined {
  return typeof interaction.params.client_id === 'string' ? interaction.params.client_id : undefined;
}

/** Purpose `login`: map the identity to an account (or offer to link one), then sign in. */
export const openSignIn: PurposeOpener<'login'> = async (broker, transaction): Promise<OpenedPurpose> => {
  const interaction = await findCallbackInteraction(broker, transaction);
  const clientId = interactionClientId(interaction);
  const retryUrl = loginPageUrl(interaction.uid);
  return {
    retryUrl,
    clientId,
    uiLocales: interaction.params.ui_locales,
    async finish(ctx, identity, tokens) {
      const authentication = loginAuthentication(identity.authentication, requiredAcrValues(interaction.params));
      if ('unmet' in authentication) return refuseUnmetAcr(broker, ctx, interaction, authentication.unmet);
      const upstream = broker.config.upstreams.find((u) => u.id === identity.connectorId)!;
      const client = broker.clients.get(clientId);
      const outcome = await resolveUpstreamLogin(broker.db, identity, {
        clientId,
        interactionUid: interaction.uid,
        policy: { autoLink: upstream.autoLink, allowSignup: upstream.allowSignup && (client?.allowSignup ?? true) },
        offerTtlSeconds: remainingSeconds(broker, interaction.exp),
      });
      const decision = linkDecisionOf(outcome);
      broker.metrics.countLinkDecision(decision.decision, decision.reason);
      if (outcome.kind === 'refused') throw new BrokerError(outcome.reason, 'account refused', { status: 403, retryUrl });
      if (outcome.kind === 'offer-link') {
        ctx.status = 303;
        ctx.redirect(`/interaction/${interaction.uid}/link`);
        return 'link-offered';
      }
      rememberUpstream(ctx, identity.connectorId);
      // Only once the person is signed in to an account: a login waiting for a link proof keeps nothing.
      await broker.tokenVault?.keep(identity.connectorId, identity.subject, tokens);
      return signIn(broker, ctx, interaction, outcome.accountId, identity.connectorId, authentication);
    },
  };
};

/**
 * What provider.interactionResult does, minus its cookie lookup: that cookie's path is
 * /interaction/<uid>, so it never reaches the callback URL. The resume cookie still binds
 * the browser when it follows returnTo.
 */
export async function signIn(broker: Broker, ctx: Context, interaction: Interaction, accountId: string, upstream: string, authentication: { amr: string[]; acr?: string }): Promise<void> {
  broker.log.info('signed in', { accountId, interaction: interaction.uid, upstream, client: interactionClientId(interaction), ...authentication });
  // amr and acr reach the session, and from it the ID token (auth-context/authentication-context.ts).
  interaction.result = { login: { accountId, ...authentication } };
  rememberSignInUpstream(ctx, broker.config, upstream);
  return resume(ctx, interaction);
}

/**
 * The upstream's login did not meet the app's required acr: a failed authentication
 * (OIDC Core §5.5.1.1), reported to the app at its redirect URI; no account is touched.
 */
export async function refuseUnmetAcr(broker: Broker, ctx: Context, interaction: Interaction, reason: string): Promise<'acr-unmet'> {
  broker.log.info('acr requirement unmet', { interaction: interaction.uid, client: interactionClientId(interaction), reason });
  interaction.result = { error: 'unmet_authentication_requirements', error_description: 'the upstream login did not meet the requested acr values' };
  await resume(ctx, interaction);
  return 'acr-unmet';
}
