import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { rememberConsent } from '../consents/service.ts';
import { assertCsrf, finish, loadInteraction, type Broker } from './broker.ts';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Grants what the client asked for and is still missing (after oidc-provider's example). */
export async function grantConsent(provider: Provider, interaction: Interaction): Promise<InteractionResults> {
  return (await saveConsentGrant(provider, interaction)).result;
}

async function saveConsentGrant(provider: Provider, interaction: Interaction): Promise<{ result: InteractionResults; scope: string }> {
  const { prompt, params, session, grantId } = interaction;
  const grant = (grantId ? await provider.Grant.find(grantId) : undefined)
    ?? new provider.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
  const details = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  return { result: { consent: { grantId: await grant.save() } }, scope: grant.getOIDCScope() };
}

/** POST /interaction/:uid/consent */
export async function confirmConsent(broker: Broker, ctx: Context): Promise<void> {
  const interaction = await loadInteraction(broker, ctx);
  assertCsrf(broker, ctx, interaction.uid);
  if (interaction.prompt.name !== 'consent') {
    ctx.status = 303;
    ctx.redirect(`/interaction/${interaction.uid}`);
    return;
  }
  const { result, scope } = await saveConsentGrant(broker.provider, interaction);
  // Remembered beyond this session, so signing in again does not ask again (src/consents).
  await rememberConsent(broker.db, interaction.session!.accountId, String(interaction.params.client_id), scope);
  return finish(ctx, interaction, result);
}
