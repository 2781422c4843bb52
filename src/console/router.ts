import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import {
  adminLinkIdentity, endSession, getAccount, mergeAccounts, previewMerge, revokeGrant, searchAccounts, setAdmin, setDisabled, signOutEverywhere,
  refusalStatus, type AdminOutcome,
} from '../accounts/admin.ts';
import { verifiedEmails } from '../accounts/profile.ts';
import { listIdentityProfiles } from '../accounts/repository.ts';
import { choosePrimaryEmail, unlinkIdentity } from '../accounts/service.ts';
import { AUDIT_EVENT_TYPES, auditFilterSchema, blankIsAbsent, describeFilterIssues } from '../audit/filter.ts';
import { queryAudit } from '../audit/repository.ts';
import { listConsents } from '../consents/repository.ts';
import { describeScopes } from '../consents/scope-words.ts';
import { revokeConsent } from '../consents/service.ts';
import { BrokerError } from '../errors.ts';
import { clientDisplayName, type Broker } from '../interactions/broker.ts';
import type { Translate } from '../i18n/messages.ts';
import type { KeyRing } from '../keys/key-ring.ts';
import { listLiveCredentialsOf } from '../oidc/adapter.ts';
import { takeSignInState } from '../self-service/session.ts';
import { auditAsCsv, auditAsJson } from './audit-export.ts';
import { registerClientPages } from './clients.ts';
import { registerKeyPages } from './keys-pages.ts';
import { bodyOf, page, seeOther, upstreamChoices, when, type AsAdmin } from './page.ts';
import { registerUpstreamsPage } from './upstreams-page.ts';
import { checkConsoleAccess, isConsoleFormValid, startConsoleSession, type ConsoleAdmin } from './session.ts';

/**
 * The admin console: server-rendered pages (views/admin/), no script, for admins signed
 * in through Doorman itself (./session.ts). Every form carries a CSRF token bound to the
 * Doorman session; every action is audited with actor `account:<admin id>` by the same
 * functions the admin API and the CLI use. Destructive actions (unlink, disable, revoke
 * admin, sign out everywhere, merge) go through a confirmation page and are refused
 * without `confirm=yes`.
 *
 *   GET  /admin                                          search accounts (q, cursor)
 *   GET  /admin/callback                                 back from signing in
 *   GET  /admin/accounts/:id                             one account
 *   GET  /admin/accounts/:id/confirm?action=&target=     confirmation page of a destructive action
 *   POST /admin/accounts/:id/identities                  link {provider, subject, email?}
 *   POST /admin/accounts/:id/identities/:identityId/unlink   (confirm)
 *   POST /admin/accounts/:id/disable                     (confirm)  | POST .../enable
 *   POST /admin/accounts/:id/admin                       {admin: grant | revoke} (revoke: confirm)
 *   POST /admin/accounts/:id/email                       {email}: primary email among verified ones
 *   POST /admin/accounts/:id/consents/:clientId/revoke
 *   POST /admin/accounts/:id/sessions/:uid/revoke        one Doorman session
 *   POST /admin/accounts/:id/grants/:grantId/revoke      one app's refresh token with its grant
 *   POST /admin/accounts/:id/sign-out                    every session, grant and token (confirm)
 *   GET  /admin/accounts/:id/merge?from=                 preview of merging `from` into :id
 *   POST /admin/accounts/:id/merge                       {from} (confirm)
 *   GET  /admin/audit                                    the audit log, filtered and paged
 *   GET  /admin/audit/export?format=csv|json             the same filter, as a file
 *   /admin/clients...                                    the Apps pages (./clients.ts)
 *   GET  /admin/upstreams                                each upstream's activity (./upstreams-page.ts)
 *   GET  /admin/keys, GET /admin/keys/confirm, POST /admin/keys/rotate, POST /admin/keys/:id/retire   (./keys-pages.ts)
 */
/** Notices after an action (`?notice=`), and refusals in words: message keys (locales/, console.notice.*, console.refusal.*). */
const NOTICES = new Set(['linked', 'unlinked', 'disabled', 'enabled', 'admin-granted', 'admin-revoked', 'email-changed', 'consent-revoked', 'session-revoked', 'grant-revoked', 'signed-out', 'merged']);
const REFUSALS = new Set(['account_not_found', 'not_found', 'last_identity', 'already_linked', 'last_identity_of_other_account', 'email_not_verified', 'same_account']);

/** Destructive actions with their confirmation page (words: console.confirm.<action>.title|text|button). */
const CONFIRMATIONS = {
  unlink: (t: string) => `identities/${encodeURIComponent(t)}/unlink`,
  disable: () => 'disable',
  'revoke-admin': () => 'admin',
  'sign-out': () => 'sign-out',
} as const;
type ConfirmAction = keyof typeof CONFIRMATIONS;

const parseForm = bodyParser({ enableTypes: ['form'], formLimit: '16kb' });
const searchSchema = z.object({ q: z.preprocess(blankIsAbsent, z.string().max(200, 'console.form.atMost:200').optional()), cursor: z.preprocess(blankIsAbsent, z.string().max(100).optional()) });
const linkSchema = z.object({
  provider: z.string().min(1, 'console.form.chooseUpstream'),
  subject: z.string().trim().min(1, 'console.form.subjectRequired').max(255, 'console.form.subjectTooLong'),
  email: z.preprocess(blankIsAbsent, z.email('console.form.notEmail').max(254, 'console.form.atMost:254').optional()),
});
const emailSchema = z.object({ email: z.string().trim().min(1, 'console.form.chooseEmail').max(254, 'console.form.atMost:254') });
const mergeSchema = z.object({ from: z.string().trim().min(1, 'console.form.mergeFromRequired').max(100, 'console.form.notAccountId') });

export function createConsoleRouter(broker: Broker, keyRing: Pick<KeyRing, 'refresh'>): Router {
  const router = new Router({ prefix: '/admin' });
  const { db } = broker;
  const form = readForm(broker);
  const upstreamName = (id: string | null) => (id ? broker.connectors.get(id)?.displayName ?? id : '');
  const refusalWords = (ctx: Context, reason: string) => {
    const t = broker.render.translatorFor(ctx);
    return REFUSALS.has(reason) ? t(`console.refusal.${reason}`) : t('console.refusal.other', { reason });
  };

  /** Runs `handler` for an admin; anyone else is sent to sign in or shown the 403 page. POSTs also need the CSRF token. */
  const asAdmin: AsAdmin = (handler) => async (ctx: Context) => {
    const access = await checkConsoleAccess(broker, ctx);
    if (access.kind === 'redirected') return;
    if (access.kind === 'forbidden') return broker.render(ctx, 'admin/forbidden', { title: broker.render.translatorFor(ctx)('console.forbidden.title') }, 403);
    if (ctx.method === 'POST' && !isConsoleFormValid(broker, access.admin, bodyOf(ctx).csrf)) {
      throw new BrokerError('csrf', 'console CSRF token missing or invalid', { status: 403, retryUrl: '/admin' });
    }
    await handler(ctx, access.admin);
  };

  const showAccount = async (ctx: Context, admin: ConsoleAdmin, id: string, problem?: { message: string; status: number }) => {
    const t = broker.render.translatorFor(ctx);
    const account = await getAccount(db, id);
    if (!account) throw new BrokerError('not_found', `no account ${id}`, { status: 404, retryUrl: '/admin' });
    const [profiles, consents, credentials] = await Promise.all([listIdentityProfiles(db, id), listConsents(db, id), listLiveCredentialsOf(db, id)]);
    const emailChoices = verifiedEmails(account.identities);
    broker.render(ctx, 'admin/account', {
      ...page(admin, t('console.account.title', { name: account.email ?? account.id })),
      notice: problem || !NOTICES.has(String(ctx.query.notice)) ? undefined : t(`console.notice.${String(ctx.query.notice)}`),
      problem: problem?.message,
      account: { ...account, created: when(account.createdAt) },
      identities: account.identities.map((i) => ({
        ...i, upstream: upstreamName(i.provider), name: profiles.get(i.id)?.name ?? '', lastUsed: i.lastLoginAt ? when(i.lastLoginAt) : t('console.account.never'),
      })),
      groups: [...new Set([...profiles.values()].flatMap((p) => p.groups))].sort(),
      emailChoices,
      upstreams: upstreamChoices(broker),
      apps: consents.map((c) => ({ clientId: c.clientId, name: clientDisplayName(broker.clients, c.clientId), access: describeScopes(c.scope.split(' ')).map((key) => t(key)).join(', ') || t('console.account.accountIdScope'), since: when(c.createdAt) })),
      sessions: credentials.filter((c) => c.model === 'Session' && c.uid).map((c) => ({ uid: c.uid!, since: c.issuedAt ? when(c.issuedAt) : '', until: c.expiresAt ? when(c.expiresAt) : '' })),
      tokens: credentials.filter((c) => c.model === 'RefreshToken' && c.grantId).map((c) => ({
        grantId: c.grantId!, app: clientDisplayName(broker.clients, c.clientId) ?? '', since: c.issuedAt ? when(c.issuedAt) : '', until: c.expiresAt ? when(c.expiresAt) : '',
      })),
      events: account.events.map((e) => ({ ...e, when: when(e.createdAt), via: upstreamName(e.provider), detail: JSON.stringify(e.detail) })),
    }, problem?.status ?? 200);
  };

  /** After an action: back to the account page with a notice, or the page again with the refusal in words. */
  const afterAction = async (ctx: Context, admin: ConsoleAdmin, id: string, outcome: AdminOutcome<object> | { kind: string; reason?: string }, notice: string) => {
    if (outcome.kind === 'refused') {
      const reason = (outcome as { reason: string }).reason;
      if (reason === 'account_not_found') throw new BrokerError('not_found', `no account ${id}`, { status: 404, retryUrl: '/admin' });
      return showAccount(ctx, admin, id, { message: refusalWords(ctx, reason), status: refusalStatus(reason) });
    }
    seeOther(ctx, `/admin/accounts/${encodeURIComponent(id)}?notice=${notice}`);
  };

  /** Destructive actions only run with `confirm=yes`, which only the confirmation page sends. */
  const confirmed = (ctx: Context, action: ConfirmAction, target = '') => {
    if (bodyOf(ctx).confirm === 'yes') return true;
    seeOther(ctx, `/admin/accounts/${encodeURIComponent(ctx.params.id!)}/confirm?${new URLSearchParams({ action, target })}`);
    return false;
  };

  router.get('/', asAdmin(async (ctx, admin) => {
    const parsed = searchSchema.safeParse(ctx.query);
    const query = parsed.success ? parsed.data : {};
    // A search that cannot be read lists nothing rather than everything.
    const result = parsed.success
      ? await searchAccounts(db, { limit: 25, ...(query.q ? { query: query.q } : {}), ...(query.cursor ? { cursor: query.cursor } : {}) })
      : { accounts: [], nextCursor: null };
    const t = broker.render.translatorFor(ctx);
    broker.render(ctx, 'admin/accounts', {
      ...page(admin, t('console.accounts.title')),
      q: query.q ?? (typeof ctx.query.q === 'string' ? ctx.query.q.slice(0, 200) : ''),
      problem: parsed.success ? undefined : describeFormIssues(parsed.error, t),
      accounts: result.accounts.map((a) => ({ ...a, created: when(a.createdAt), upstreams: a.identities.map((i) => upstreamName(i.provider)).join(', ') })),
      next: result.nextCursor ? `/admin?${new URLSearchParams({ ...(query.q ? { q: query.q } : {}), cursor: result.nextCursor })}` : undefined,
    }, parsed.success ? 200 : 400);
  }));

  router.get('/callback', async (ctx) => {
    if (!takeSignInState(ctx, '/admin')) throw new BrokerError('state_mismatch', 'console sign-in state mismatch', { status: 400, retryUrl: '/admin' });
    if (ctx.query.error) throw new BrokerError('denied', `console sign-in ended with ${String(ctx.query.error)}`, { status: 403, retryUrl: '/admin' });
    if (!(await startConsoleSession(broker, ctx))) throw new BrokerError('state_mismatch', 'console sign-in returned without a session', { status: 400, retryUrl: '/admin' });
    seeOther(ctx, '/admin');
  });

  router.get('/accounts/:id', asAdmin((ctx, admin) => showAccount(ctx, admin, ctx.params.id!)));

  router.get('/accounts/:id/confirm', asAdmin(async (ctx, admin) => {
    const t = broker.render.translatorFor(ctx);
    const action = String(ctx.query.action) as ConfirmAction;
    const path = CONFIRMATIONS[action];
    if (!Object.hasOwn(CONFIRMATIONS, action)) throw new BrokerError('not_found', `no console action ${action}`, { status: 404, retryUrl: '/admin' });
    const target = typeof ctx.query.target === 'string' ? ctx.query.target.slice(0, 100) : '';
    const account = await getAccount(db, ctx.params.id!);
    if (!account) throw new BrokerError('not_found', `no account ${ctx.params.id}`, { status: 404, retryUrl: '/admin' });
    const identity = action === 'unlink' ? account.identities.find((i) => i.id === target) : undefined;
    if (action === 'unlink' && !identity) return showAccount(ctx, admin, account.id, { message: t('console.refusal.not_found'), status: 404 });
    broker.render(ctx, 'admin/confirm', {
      ...page(admin, t(`console.confirm.${action}.title`)),
      text: t(`console.confirm.${action}.text`),
      button: t(`console.confirm.${action}.button`),
      subject: identity
        ? `${t('console.confirm.identity', { upstream: upstreamName(identity.provider), subject: identity.subject })}${identity.email ? ` (${identity.email})` : ''}`
        : t('console.account.title', { name: account.email ?? account.id }),
      action: `/admin/accounts/${encodeURIComponent(account.id)}/${path(target)}`,
      extra: action === 'revoke-admin' ? { admin: 'revoke' } : {},
      back: `/admin/accounts/${encodeURIComponent(account.id)}`,
    });
  }));

  router.post('/accounts/:id/identities', form, asAdmin(async (ctx, admin) => {
    const parsed = linkSchema.safeParse(bodyOf(ctx));
    const t = broker.render.translatorFor(ctx);
    if (!parsed.success) return showAccount(ctx, admin, ctx.params.id!, { message: describeFormIssues(parsed.error, t), status: 400 });
    if (!broker.connectors.has(parsed.data.provider)) return showAccount(ctx, admin, ctx.params.id!, { message: t('console.refusal.noUpstream', { id: parsed.data.provider.slice(0, 100) }), status: 400 });
    const { provider, subject, email } = parsed.data;
    await afterAction(ctx, admin, ctx.params.id!, await adminLinkIdentity(db, ctx.params.id!, { provider, subject, ...(email ? { email } : {}) }, admin.actor), 'linked');
  }));

  router.post('/accounts/:id/identities/:identityId/unlink', form, asAdmin(async (ctx, admin) => {
    if (!confirmed(ctx, 'unlink', ctx.params.identityId)) return;
    await afterAction(ctx, admin, ctx.params.id!, await unlinkIdentity(db, ctx.params.id!, ctx.params.identityId!, admin.actor), 'unlinked');
  }));

  router.post('/accounts/:id/disable', form, asAdmin(async (ctx, admin) => {
    if (!confirmed(ctx, 'disable')) return;
    await afterAction(ctx, admin, ctx.params.id!, await setDisabled(db, ctx.params.id!, true, admin.actor), 'disabled');
  }));
  router.post('/accounts/:id/enable', form, asAdmin(async (ctx, admin) => {
    await afterAction(ctx, admin, ctx.params.id!, await setDisabled(db, ctx.params.id!, false, admin.actor), 'enabled');
  }));

  router.post('/accounts/:id/admin', form, asAdmin(async (ctx, admin) => {
    const grant = bodyOf(ctx).admin === 'grant';
    if (!grant && bodyOf(ctx).admin !== 'revoke') return showAccount(ctx, admin, ctx.params.id!, { message: broker.render.translatorFor(ctx)('console.refusal.grantOrRevoke'), status: 400 });
    if (!grant && !confirmed(ctx, 'revoke-admin')) return;
    await afterAction(ctx, admin, ctx.params.id!, await setAdmin(db, ctx.params.id!, grant, admin.actor), grant ? 'admin-granted' : 'admin-revoked');
  }));

  router.post('/accounts/:id/email', form, asAdmin(async (ctx, admin) => {
    const parsed = emailSchema.safeParse(bodyOf(ctx));
    if (!parsed.success) return showAccount(ctx, admin, ctx.params.id!, { message: describeFormIssues(parsed.error, broker.render.translatorFor(ctx)), status: 400 });
    await afterAction(ctx, admin, ctx.params.id!, await choosePrimaryEmail(db, ctx.params.id!, parsed.data.email, admin.actor), 'email-changed');
  }));

  router.post('/accounts/:id/consents/:clientId/revoke', form, asAdmin(async (ctx, admin) => {
    const outcome = await revokeConsent(db, ctx.params.id!, ctx.params.clientId!, admin.actor);
    await afterAction(ctx, admin, ctx.params.id!, outcome.kind === 'revoked' ? { kind: 'done' } : { kind: 'refused', reason: 'not_found' }, 'consent-revoked');
  }));

  router.post('/accounts/:id/sessions/:uid/revoke', form, asAdmin(async (ctx, admin) => {
    await afterAction(ctx, admin, ctx.params.id!, await endSession(db, ctx.params.id!, ctx.params.uid!, admin.actor), 'session-revoked');
  }));
  router.post('/accounts/:id/grants/:grantId/revoke', form, asAdmin(async (ctx, admin) => {
    await afterAction(ctx, admin, ctx.params.id!, await revokeGrant(db, ctx.params.id!, ctx.params.grantId!, admin.actor), 'grant-revoked');
  }));
  router.post('/accounts/:id/sign-out', form, asAdmin(async (ctx, admin) => {
    if (!confirmed(ctx, 'sign-out')) return;
    await afterAction(ctx, admin, ctx.params.id!, await signOutEverywhere(db, ctx.params.id!, admin.actor), 'signed-out');
  }));

  router.get('/accounts/:id/merge', asAdmin(async (ctx, admin) => {
    const t = broker.render.translatorFor(ctx);
    const parsed = mergeSchema.safeParse(ctx.query);
    if (!parsed.success) return showAccount(ctx, admin, ctx.params.id!, { message: describeFormIssues(parsed.error, t), status: 400 });
    const preview = await previewMerge(db, ctx.params.id!, parsed.data.from);
    if (!preview) {
      const message = parsed.data.from === ctx.params.id ? t('console.refusal.same_account') : t('console.refusal.noMergeSource', { id: parsed.data.from });
      return showAccount(ctx, admin, ctx.params.id!, { message, status: parsed.data.from === ctx.params.id ? 409 : 404 });
    }
    broker.render(ctx, 'admin/merge', {
      ...page(admin, t('console.merge.title')),
      survivor: preview.survivor, retired: preview.retired, consents: preview.consents, events: preview.events, liveRows: preview.liveRows,
      identities: preview.retired.identities.map((i) => ({ ...i, upstream: upstreamName(i.provider) })),
    });
  }));
  router.post('/accounts/:id/merge', form, asAdmin(async (ctx, admin) => {
    const parsed = mergeSchema.safeParse(bodyOf(ctx));
    if (!parsed.success) return showAccount(ctx, admin, ctx.params.id!, { message: describeFormIssues(parsed.error, broker.render.translatorFor(ctx)), status: 400 });
    if (bodyOf(ctx).confirm !== 'yes') {
      seeOther(ctx, `/admin/accounts/${encodeURIComponent(ctx.params.id!)}/merge?${new URLSearchParams({ from: parsed.data.from })}`);
      return;
    }
    await afterAction(ctx, admin, ctx.params.id!, await mergeAccounts(db, ctx.params.id!, parsed.data.from, admin.actor), 'merged');
  }));

  router.get('/audit', asAdmin(async (ctx, admin) => {
    const parsed = auditFilterSchema.safeParse(ctx.query);
    const result = parsed.success ? await queryAudit(db, parsed.data) : { events: [], nextCursor: null };
    const given = Object.fromEntries(['from', 'to', 'type', 'provider', 'clientId', 'accountId', 'reason'].map((k) => [k, typeof ctx.query[k] === 'string' ? (ctx.query[k] as string).slice(0, 200) : '']));
    const kept = new URLSearchParams(Object.entries(given).filter(([, v]) => v));
    broker.render(ctx, 'admin/audit', {
      ...page(admin, broker.render.translatorFor(ctx)('console.audit.title')),
      filter: given,
      problems: parsed.success ? [] : describeFilterIssues(parsed.error),
      types: AUDIT_EVENT_TYPES,
      upstreams: upstreamChoices(broker),
      clients: broker.clients.list().map((c) => ({ id: c.clientId, name: c.name ?? c.clientId })),
      events: result.events.map((e) => ({ ...e, when: when(e.createdAt), via: upstreamName(e.provider), detail: JSON.stringify(e.detail) })),
      exportQuery: kept.toString(),
      next: result.nextCursor ? `/admin/audit?${new URLSearchParams([...kept, ['cursor', result.nextCursor]])}` : undefined,
    }, parsed.success ? 200 : 400);
  }));

  router.get('/audit/export', asAdmin(async (ctx) => {
    const format = ctx.query.format === 'json' ? 'json' : ctx.query.format === 'csv' ? 'csv' : undefined;
    const parsed = auditFilterSchema.safeParse({ ...ctx.query, limit: undefined, cursor: undefined });
    if (!format || !parsed.success) {
      ctx.status = 400;
      ctx.type = 'text/plain';
      ctx.body = [...(format ? [] : ['format: csv or json']), ...(parsed.success ? [] : describeFilterIssues(parsed.error))].join('\n');
      return;
    }
    const events = await exportAudit(broker, parsed.data);
    ctx.set('Cache-Control', 'no-store');
    ctx.attachment(`doorman-audit.${format}`);
    ctx.type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8';
    ctx.body = format === 'csv' ? auditAsCsv(events) : auditAsJson(events);
  }));

  registerClientPages(router, broker, asAdmin, form);
  registerUpstreamsPage(router, broker, asAdmin);
  registerKeyPages(router, broker, asAdmin, form, keyRing);
  return router;
}

/** The form body, or a page saying why it could not be read (too large, malformed) where the parser's error would be a 500. */
function readForm(broker: Broker): Middleware {
  return async (ctx, next) => {
    try {
      await parseForm(ctx, async () => {});
    } catch (err) {
      const status = (err as { status?: unknown }).status;
      if (typeof status !== 'number' || status >= 500) throw err;
      const t = broker.render.translatorFor(ctx);
      return broker.render(ctx, 'admin/problem', {
        title: t(status === 413 ? 'console.problem.tooLargeTitle' : 'console.problem.unreadableTitle'),
        text: t(status === 413 ? 'console.problem.tooLargeText' : 'console.problem.unreadableText'),
      }, status);
    }
    await next();
  };
}

/** Export is capped: a bigger window is asked for in several time ranges. */
const EXPORT_MAX = 10_000;

async function exportAudit(broker: Broker, filter: z.infer<typeof auditFilterSchema>) {
  const all = [];
  let cursor: string | undefined;
  do {
    const page = await queryAudit(broker.db, { ...filter, limit: 200, ...(cursor ? { cursor } : {}) });
    all.push(...page.events);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && all.length < EXPORT_MAX);
  return all.slice(0, EXPORT_MAX);
}

/** The form's problems in words: each schema message above is a message key, `key:max` where it has a number. */
function describeFormIssues(error: z.ZodError, t: Translate): string {
  return error.issues.map((i) => {
    const [key, max] = i.message.split(':');
    return key!.startsWith('console.') ? t(key!, { max }) : i.message;
  }).join('; ');
}
