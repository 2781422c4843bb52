import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import { verifiedEmails } from '../accounts/profile.ts';
import { findAccountState, findPrimaryEmail, listIdentities, recentEvents } from '../accounts/repository.ts';
import { choosePrimaryEmail, unlinkIdentity } from '../accounts/service.ts';
import { listConsents } from '../consents/repository.ts';
import { describeScopes } from '../consents/scope-words.ts';
import { revokeConsent } from '../consents/service.ts';
import { BrokerError } from '../errors.ts';
import { beginUpstreamLogin, clientDisplayName, upstreamButton, type Broker } from '../interactions/broker.ts';
import { registerCallbackPurpose } from '../interactions/callback.ts';
import { openAccountLink } from './link.ts';
import { currentSession, redirectToSignIn, takeSignInState } from './session.ts';

/**
 * The Account page: a signed-in person's identities, links, the apps they allowed and recent sign-ins.
 *
 *   GET  /account                          the page (or off to sign in)
 *   GET  /account/callback                 back from signing in
 *   POST /account/link/:connectorId        link another upstream (CSRF)
 *   POST /account/identities/:id/unlink    asks to confirm; with confirm=yes unlinks one, never the last (CSRF)
 *   POST /account/email                    choose the email apps see, among verified ones (CSRF)
 *   POST /account/apps/:clientId/revoke    withdraw an app's access: consent, grants, tokens (CSRF)
 */
/** Notices after an action (`?notice=`); their words are `notice.<name>` in locales/. */
const NOTICES = new Set(['linked', 'already-linked', 'unlinked', 'email-changed', 'revoked']);

export function createAccountRouter(broker: Broker): Router {
  const router = new Router();
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });
  registerCallbackPurpose(broker, 'account-link', openAccountLink);

  const requireSession = async (ctx: Context) => {
    const session = await currentSession(broker.provider, ctx);
    const account = session ? await findAccountState(broker.db, session.accountId) : undefined;
    if (!session || !account || account.disabledAt || account.retiredAt) return undefined;
    return session;
  };
  const assertCsrf = (ctx: Context, sessionUid: string) => {
    if (!broker.csrf.isValid(`account:${sessionUid}`, (ctx.request.body as Record<string, unknown> | undefined)?.csrf)) {
      throw new BrokerError('csrf', 'CSRF token missing or invalid', { status: 403, retryUrl: '/account' });
    }
  };

  router.get('/account', async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return redirectToSignIn(broker.config.issuer, ctx);
    const [identities, events, primaryEmail, consents] = await Promise.all([
      listIdentities(broker.db, session.accountId), recentEvents(broker.db, session.accountId, 10), findPrimaryEmail(broker.db, session.accountId),
      listConsents(broker.db, session.accountId),
    ]);
    const linked = new Set(identities.map((i) => i.provider));
    const emailChoices = verifiedEmails(identities);
    const name = (id: string) => broker.connectors.get(id)?.displayName ?? id;
    const t = broker.render.translatorFor(ctx);
    const notice = String(ctx.query.notice);
    broker.render(ctx, 'account', {
      csrf: broker.csrf.tokenFor(`account:${session.uid}`),
      notice: NOTICES.has(notice) ? `notice.${notice}` : undefined,
      identities: identities.map((i) => ({ ...i, providerName: name(i.provider), lastUsed: i.lastLoginAt?.toISOString().slice(0, 16).replace('T', ' ') })),
      canUnlink: identities.length > 1,
      primaryEmail: primaryEmail ?? null,
      emailChoices,
      canChooseEmail: emailChoices.some((e) => e !== primaryEmail),
      apps: consents.map((c) => ({
        clientId: c.clientId,
        name: clientDisplayName(broker.clients, c.clientId, t('client.account')),
        access: (describeScopes(c.scope.split(' ')).map((key) => t(key)).join(', ')) || t('scope.openid'),
        since: c.createdAt.toISOString().slice(0, 10),
      })),
      linkable: [...broker.connectors.values()].filter((c) => !linked.has(c.id)).map((c) => upstreamButton(broker.config, c)),
      events: events.map((e) => ({
        // Words: `event.<type>` in locales/; an event without words is shown as its type.
        what: t(`event.${e.type}`) === `event.${e.type}` ? e.type : t(`event.${e.type}`),
        via: e.provider ? name(e.provider) : '',
        app: e.clientId ?? '',
        when: e.createdAt.toISOString().slice(0, 16).replace('T', ' '),
      })),
    });
  });

  router.get('/account/callback', async (ctx) => {
    if (!takeSignInState(ctx)) throw new BrokerError('state_mismatch', 'account sign-in state mismatch', { status: 400, retryUrl: '/account' });
    if (ctx.query.error) throw new BrokerError('denied', `account sign-in ended with ${String(ctx.query.error)}`, { status: 403, retryUrl: '/account' });
    ctx.status = 303;
    ctx.redirect('/account');
  });

  router.post('/account/link/:connectorId', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return redirectToSignIn(broker.config.issuer, ctx);
    assertCsrf(ctx, session.uid);
    const connector = broker.connectors.get(ctx.params.connectorId ?? '');
    if (!connector) throw new BrokerError('unknown_upstream', `no upstream ${ctx.params.connectorId}`, { status: 404, retryUrl: '/account' });
    await beginUpstreamLogin(broker, ctx, connector, { purpose: 'account-link', accountId: session.accountId }, 600, '/account');
  });

  router.post('/account/identities/:id/unlink', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return redirectToSignIn(broker.config.issuer, ctx);
    assertCsrf(ctx, session.uid);
    // The Account page's button only asks; removing a way to sign in needs a second, explicit yes.
    if ((ctx.request.body as Record<string, unknown> | undefined)?.confirm !== 'yes') {
      const identity = (await listIdentities(broker.db, session.accountId)).find((i) => i.id === ctx.params.id);
      if (!identity) throw new BrokerError('not_found', 'no such identity on this account', { status: 404, retryUrl: '/account' });
      broker.render(ctx, 'unlink-confirm', {
        csrf: broker.csrf.tokenFor(`account:${session.uid}`),
        action: `/account/identities/${encodeURIComponent(identity.id)}/unlink`,
        provider: broker.connectors.get(identity.provider)?.displayName ?? identity.provider,
        email: identity.email,
      });
      return;
    }
    const outcome = await unlinkIdentity(broker.db, session.accountId, ctx.params.id ?? '');
    if (outcome.kind === 'refused') throw new BrokerError(outcome.reason, 'unlink refused', { status: 409, retryUrl: '/account' });
    ctx.status = 303;
    ctx.redirect('/account?notice=unlinked');
  });
  router.post('/account/email', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return redirectToSignIn(broker.config.issuer, ctx);
    assertCsrf(ctx, session.uid);
    const email = (ctx.request.body as Record<string, unknown> | undefined)?.email;
    const outcome = await choosePrimaryEmail(broker.db, session.accountId, typeof email === 'string' ? email : '');
    if (outcome.kind === 'refused') throw new BrokerError(outcome.reason, 'primary email refused', { status: 409, retryUrl: '/account' });
    ctx.status = 303;
    ctx.redirect('/account?notice=email-changed');
  });

  router.post('/account/apps/:clientId/revoke', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return redirectToSignIn(broker.config.issuer, ctx);
    assertCsrf(ctx, session.uid);
    const outcome = await revokeConsent(broker.db, session.accountId, ctx.params.clientId ?? '');
    if (outcome.kind === 'not_found') throw new BrokerError('not_found', 'no such app allowed', { status: 404, retryUrl: '/account' });
    ctx.status = 303;
    ctx.redirect('/account?notice=revoked');
  });
  return router;
}
