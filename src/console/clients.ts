import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { BrokerError } from '../errors.ts';
import type { Broker } from '../interactions/broker.ts';
import { refusalStatus } from '../accounts/admin.ts';
import { createDatabaseClient, deleteClient, rotateClientSecret, updateDatabaseClientSettings, viewOf, type ClientOutcome, type ClientView } from '../clients/service.ts';
import { bodyOf, page, seeOther, upstreamChoices, type AsAdmin } from './page.ts';
import type { ConsoleAdmin } from './session.ts';

/**
 * The console's Apps pages (views/admin/clients*.eta), for the same actions as the admin
 * API, through the same service (clients/service.ts). A new secret is shown on the page
 * that answers the POST, never in a URL, and never again. Config-file apps are shown
 * read-only. Rotating and deleting go through a confirmation page. The pages are in the
 * console's language (locales/, console.apps.*); the problems with a form's input are
 * clients/input.ts's, shared with the admin API's JSON, and stay English, as the audit
 * filter's do.
 *
 *   GET  /admin/clients                         every app, and the form for a new one
 *   POST /admin/clients                         create (the secret is on the answer)
 *   GET  /admin/clients/:clientId               one app: its form, or read-only
 *   POST /admin/clients/:clientId               save the form
 *   GET  /admin/clients/:clientId/confirm?action=rotate|delete
 *   POST /admin/clients/:clientId/secret        rotate (confirm)
 *   POST /admin/clients/:clientId/delete        delete (confirm)
 */
/** Words: locales/, console.apps.* (notices, refusals, confirm.<action>.title|text|button). */
const NOTICES = new Set(['saved', 'deleted']);
const REFUSALS = new Set(['not_found', 'read_only', 'client_exists', 'public_client']);
const CONFIRMATIONS = { rotate: 'secret', delete: 'delete' } as const;

export function registerClientPages(router: Router, broker: Broker, asAdmin: AsAdmin, form: Middleware): void {
  const admin = { db: broker.db, config: broker.config, clients: broker.clients };
  const base = (clientId: string) => `/admin/clients/${encodeURIComponent(clientId)}`;
  const words = (ctx: Context) => broker.render.translatorFor(ctx);
  // Own notices only: `?notice=constructor` must not reach Object.prototype.
  const noticeOf = (ctx: Context) => (NOTICES.has(String(ctx.query.notice)) ? words(ctx)(`console.apps.${String(ctx.query.notice)}`) : undefined);
  /** A refusal of the service in words; one it has no words for is named as it is. */
  const refusalWords = (ctx: Context, reason: string) => (REFUSALS.has(reason) ? words(ctx)(`console.apps.refusal.${reason}`) : words(ctx)('console.refusal.other', { reason }));
  const showList = (ctx: Context, who: ConsoleAdmin, values = emptyValues(), problems: string[] = [], status = 200) => {
    broker.render(ctx, 'admin/clients', {
      ...page(who, words(ctx)('console.apps.title')), clients: broker.clients.list().map(viewOf), values, problems, upstreams: upstreamChoices(broker), notice: noticeOf(ctx),
    }, status);
  };
  const showForm = (ctx: Context, who: ConsoleAdmin, client: ClientView, values: FormValues, problems: string[] = [], status = 200) => {
    broker.render(ctx, 'admin/client', { ...page(who, words(ctx)('console.apps.appTitle', { name: client.name })), client, values, problems, upstreams: upstreamChoices(broker), notice: noticeOf(ctx) }, status);
  };
  const showSecret = (ctx: Context, who: ConsoleAdmin, clientId: string, secret: string, created: boolean) => {
    // The page carries the secret: no cache, no referrer may keep it.
    ctx.set('Cache-Control', 'no-store');
    const title = created ? words(ctx)('console.apps.created') : words(ctx)('console.apps.rotated');
    broker.render(ctx, 'admin/client-secret', { ...page(who, title), clientId, secret, created, back: base(clientId) });
  };
  const refused = (ctx: Context, who: ConsoleAdmin, clientId: string, reason: string) => {
    if (reason === 'not_found') throw new BrokerError('not_found', `no client ${clientId}`, { status: 404, retryUrl: '/admin/clients' });
    const client = broker.clients.get(clientId);
    const message = [refusalWords(ctx, reason)];
    return client ? showForm(ctx, who, viewOf(client), valuesOf(viewOf(client)), message, refusalStatus(reason)) : showList(ctx, who, emptyValues(), message, refusalStatus(reason));
  };
  const known = (ctx: Context) => {
    const client = broker.clients.get(ctx.params.clientId);
    if (!client) throw new BrokerError('not_found', `no client ${String(ctx.params.clientId).slice(0, 100)}`, { status: 404, retryUrl: '/admin/clients' });
    return viewOf(client);
  };

  router.get('/clients', asAdmin(async (ctx, who) => showList(ctx, who)));
  router.post('/clients', form, asAdmin(async (ctx, who) => {
    const values = formValues(ctx);
    const outcome = await createDatabaseClient(admin, { ...settingsOf(values), clientId: values.clientId, public: values.public }, who.actor);
    if (outcome.kind === 'invalid') return showList(ctx, who, values, outcome.problems, 400);
    if (outcome.kind === 'refused') return showList(ctx, who, values, [refusalWords(ctx, outcome.reason)], refusalStatus(outcome.reason));
    if (outcome.clientSecret) return showSecret(ctx, who, outcome.client.clientId, outcome.clientSecret, true);
    seeOther(ctx, `${base(outcome.client.clientId)}?notice=saved`);
  }));
  router.get('/clients/:clientId', asAdmin(async (ctx, who) => {
    const client = known(ctx);
    showForm(ctx, who, client, valuesOf(client));
  }));
  router.post('/clients/:clientId', form, asAdmin(async (ctx, who) => {
    const client = known(ctx);
    const values = formValues(ctx);
    const outcome = await updateDatabaseClientSettings(admin, client.clientId, settingsOf(values), who.actor);
    if (outcome.kind === 'invalid') return showForm(ctx, who, client, { ...values, clientId: client.clientId }, outcome.problems, 400);
    if (outcome.kind === 'refused') return refused(ctx, who, client.clientId, outcome.reason);
    seeOther(ctx, `${base(client.clientId)}?notice=saved`);
  }));
  router.get('/clients/:clientId/confirm', asAdmin(async (ctx, who) => {
    const client = known(ctx);
    const action = String(ctx.query.action);
    if (!Object.hasOwn(CONFIRMATIONS, action)) throw new BrokerError('not_found', `no console action ${action.slice(0, 50)}`, { status: 404, retryUrl: base(client.clientId) });
    const t = words(ctx);
    broker.render(ctx, 'admin/confirm', {
      ...page(who, t(`console.apps.confirm.${action}.title`)), text: t(`console.apps.confirm.${action}.text`), button: t(`console.apps.confirm.${action}.button`),
      subject: t('console.apps.confirm.subject', { name: client.name, clientId: client.clientId }),
      action: `${base(client.clientId)}/${CONFIRMATIONS[action as keyof typeof CONFIRMATIONS]}`, extra: {}, back: base(client.clientId),
    });
  }));
  const confirmed = (ctx: Context, action: keyof typeof CONFIRMATIONS) => {
    if (bodyOf(ctx).confirm === 'yes') return true;
    seeOther(ctx, `${base(String(ctx.params.clientId))}/confirm?action=${action}`);
    return false;
  };
  router.post('/clients/:clientId/secret', form, asAdmin(async (ctx, who) => {
    const client = known(ctx);
    if (!confirmed(ctx, 'rotate')) return;
    const outcome: ClientOutcome<{ clientSecret: string }> = await rotateClientSecret(admin, client.clientId, who.actor);
    if (outcome.kind !== 'done') return refused(ctx, who, client.clientId, outcome.kind === 'refused' ? outcome.reason : 'invalid');
    showSecret(ctx, who, client.clientId, outcome.clientSecret, false);
  }));
  router.post('/clients/:clientId/delete', form, asAdmin(async (ctx, who) => {
    const client = known(ctx);
    if (!confirmed(ctx, 'delete')) return;
    const outcome = await deleteClient(admin, client.clientId, who.actor);
    if (outcome.kind !== 'done') return refused(ctx, who, client.clientId, outcome.kind === 'refused' ? outcome.reason : 'invalid');
    seeOther(ctx, '/admin/clients?notice=deleted');
  }));
}

/** The form as typed, to show again beside its problems. */
interface FormValues {
  clientId: string; name: string; redirectUris: string; postLogoutRedirectUris: string; firstParty: boolean; allowSignup: boolean;
  upstreams: string[]; grantTypes: string[]; pkce: string; public: boolean;
}

function emptyValues(): FormValues {
  return { clientId: '', name: '', redirectUris: '', postLogoutRedirectUris: '', firstParty: false, allowSignup: true, upstreams: [], grantTypes: ['authorization_code', 'refresh_token'], pkce: 'required', public: false };
}

function valuesOf(c: ClientView): FormValues {
  return {
    clientId: c.clientId, name: c.name, redirectUris: c.redirectUris.join('\n'), postLogoutRedirectUris: c.postLogoutRedirectUris.join('\n'),
    firstParty: c.firstParty, allowSignup: c.allowSignup, upstreams: c.upstreams, grantTypes: c.grantTypes, pkce: c.pkce, public: c.public,
  };
}

/** Reads the form leniently (anything not text becomes empty); clients/input.ts judges the result. */
function formValues(ctx: Context): FormValues {
  const body = bodyOf(ctx);
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const list = (v: unknown) => (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
  return {
    clientId: str(body.clientId).trim(), name: str(body.name), redirectUris: str(body.redirectUris), postLogoutRedirectUris: str(body.postLogoutRedirectUris),
    firstParty: body.firstParty === 'yes', allowSignup: body.allowSignup === 'yes', upstreams: list(body.upstreams), grantTypes: list(body.grantTypes),
    pkce: str(body.pkce), public: body.public === 'yes',
  };
}

function settingsOf(v: FormValues) {
  const lines = (text: string) => text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return {
    name: v.name, redirectUris: lines(v.redirectUris), postLogoutRedirectUris: lines(v.postLogoutRedirectUris), firstParty: v.firstParty,
    allowSignup: v.allowSignup, upstreams: v.upstreams, grantTypes: v.grantTypes, pkce: v.pkce,
  };
}
