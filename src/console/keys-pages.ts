import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { BrokerError } from '../errors.ts';
import type { Broker } from '../interactions/broker.ts';
import { describeKeys } from '../keys/describe.ts';
import { keyPolicies, type KeyRing } from '../keys/key-ring.ts';
import { readKeys, retireKeyNow, settleKeys, type KeySet, type RetireOutcome } from '../keys/repository.ts';
import { bodyOf, page, seeOther, when, type AsAdmin } from './page.ts';
import type { ConsoleAdmin } from './session.ts';

/**
 * The signing keys and cookie secrets (src/keys/rotation.ts has their states), with the
 * two actions `doorman keys` offers: rotate now, and retire a next or previous key now
 * (one that may have leaked). Both go through a confirmation page, need the console's
 * CSRF token, and are audited with `account:<admin id>` in the transaction that makes
 * the change. This process installs the new keys before answering; the others do at
 * their next refresh (keys.refreshSeconds), as after `doorman keys rotate`.
 *
 *   GET  /admin/keys                              the keys, their state and age
 *   GET  /admin/keys/confirm?action=rotate|retire&id=   confirmation page
 *   POST /admin/keys/rotate                       (confirm)
 *   POST /admin/keys/:id/retire                   (confirm)
 */
const DAY_MS = 24 * 3600 * 1000;
/** Signing key ids are RFC 7638 thumbprints (base64url), cookie secret ids uuids. */
const KEY_ID = /^[\w-]{1,100}$/;

const NOTICES = { rotated: 'console.keys.rotated', retired: 'console.keys.retired' } as const;
const REFUSALS: Record<Exclude<RetireOutcome, 'retired' | 'not_found'>, string> = {
  is_current: 'console.keys.refusedCurrent',
  already_retired: 'console.keys.refusedRetired',
};

export function registerKeyPages(router: Router, broker: Broker, asAdmin: AsAdmin, form: Middleware, keyRing: Pick<KeyRing, 'refresh'>): void {
  const { db, config } = broker;

  const showKeys = async (ctx: Context, admin: ConsoleAdmin, problem?: { key: string; vars?: Record<string, unknown>; status: number }) => {
    const t = broker.render.translatorFor(ctx);
    const described = describeKeys(await readKeys(db), config);
    const now = Date.now();
    const row = (kind: string) => (k: (typeof described.signing)[number] | (typeof described.cookies)[number]) => ({
      id: k.id,
      kind: 'alg' in k ? t('console.keys.kindSigning', { alg: k.alg }) : kind,
      state: t(`console.keys.state.${k.state}`),
      retirable: k.state === 'next' || k.state === 'previous',
      created: when(k.createdAt),
      age: t('console.keys.days', { days: Math.floor((now - k.createdAt.getTime()) / DAY_MS) }),
      until: 'rotatesAt' in k && k.rotatesAt ? t('console.keys.rotatesAt', { time: when(k.rotatesAt) })
        : 'retiresAt' in k && k.retiresAt ? t('console.keys.retiresAt', { time: when(k.retiresAt) }) : '',
    });
    const live = [...described.signing.filter((k) => k.state !== 'retired').map(row('')), ...described.cookies.map(row(t('console.keys.kindCookie')))];
    // Own keys only: `?notice=constructor` must not reach Object.prototype.
    const notice = Object.hasOwn(NOTICES, String(ctx.query.notice)) ? NOTICES[String(ctx.query.notice) as keyof typeof NOTICES] : undefined;
    broker.render(ctx, 'admin/keys', {
      ...page(admin, t('console.keys.title')),
      keys: live,
      retiredCount: described.signing.filter((k) => k.state === 'retired').length,
      refreshSeconds: config.keys.refreshSeconds,
      notice: problem ? undefined : notice && t(notice),
      problem: problem && t(problem.key, problem.vars),
    }, problem?.status ?? 200);
  };

  /** A key id that cannot name a key, or names none: a 404 page, nothing written. */
  const noSuchKey = (id: string) => new BrokerError('not_found', `no key ${id.slice(0, 100)}`, { status: 404, retryUrl: '/admin/keys' });

  router.get('/keys', asAdmin((ctx, admin) => showKeys(ctx, admin)));

  router.get('/keys/confirm', asAdmin(async (ctx, admin) => {
    const t = broker.render.translatorFor(ctx);
    if (ctx.query.action === 'rotate') {
      const wait = secondsUntilRotatable(await readKeys(db), config.keys.refreshSeconds);
      if (wait > 0) return showKeys(ctx, admin, { key: 'console.keys.refusedTooSoon', vars: { wait }, status: 409 });
      return broker.render(ctx, 'admin/confirm', {
        ...page(admin, t('console.keys.confirmRotateTitle')),
        subject: t('console.keys.confirmRotateSubject'),
        text: t('console.keys.confirmRotateText', { seconds: config.keys.refreshSeconds }),
        button: t('console.keys.rotate'), action: '/admin/keys/rotate', extra: {}, back: '/admin/keys',
      });
    }
    const id = typeof ctx.query.id === 'string' ? ctx.query.id : '';
    if (ctx.query.action !== 'retire') throw new BrokerError('not_found', `no console action ${String(ctx.query.action).slice(0, 50)}`, { status: 404, retryUrl: '/admin/keys' });
    const keys = await readKeys(db);
    const key = [...keys.signing, ...keys.cookies].find((k) => k.id === id);
    if (!KEY_ID.test(id) || !key) throw noSuchKey(id);
    if (key.state === 'current' || key.state === 'retired') return showKeys(ctx, admin, { key: REFUSALS[key.state === 'current' ? 'is_current' : 'already_retired'], status: 409 });
    broker.render(ctx, 'admin/confirm', {
      ...page(admin, t('console.keys.confirmRetireTitle')),
      subject: t('console.keys.confirmRetireSubject', { id }),
      text: t('console.keys.confirmRetireText'),
      button: t('console.keys.retire'), action: `/admin/keys/${encodeURIComponent(id)}/retire`, extra: {}, back: '/admin/keys',
    });
  }));

  router.post('/keys/rotate', form, asAdmin(async (ctx, admin) => {
    if (bodyOf(ctx).confirm !== 'yes') return seeOther(ctx, '/admin/keys/confirm?action=rotate');
    const wait = secondsUntilRotatable(await readKeys(db), config.keys.refreshSeconds);
    if (wait > 0) return showKeys(ctx, admin, { key: 'console.keys.refusedTooSoon', vars: { wait }, status: 409 });
    // Checked again under the key lock: a second submit sent at the same moment passed the check above too.
    const { changed } = await settleKeys(db, keyPolicies(config, false), new Date(), true, admin.actor, (keys) => secondsUntilRotatable(keys, config.keys.refreshSeconds) === 0);
    if (!changed) return showKeys(ctx, admin, { key: 'console.keys.refusedTooSoon', vars: { wait: secondsUntilRotatable(await readKeys(db), config.keys.refreshSeconds) }, status: 409 });
    await installNow(keyRing);
    seeOther(ctx, '/admin/keys?notice=rotated');
  }));

  router.post('/keys/:id/retire', form, asAdmin(async (ctx, admin) => {
    const id = ctx.params.id!;
    if (!KEY_ID.test(id)) throw noSuchKey(id);
    if (bodyOf(ctx).confirm !== 'yes') return seeOther(ctx, `/admin/keys/confirm?${new URLSearchParams({ action: 'retire', id })}`);
    const outcome = await retireKeyNow(db, id, admin.actor);
    if (outcome === 'not_found') throw noSuchKey(id);
    if (outcome !== 'retired') return showKeys(ctx, admin, { key: REFUSALS[outcome], status: 409 });
    await installNow(keyRing);
    seeOther(ctx, '/admin/keys?notice=retired');
  }));
}

/**
 * A rotation makes the next key current. Other processes must already publish it, or apps
 * that fetch the JWKS from them cannot verify what it signs: they learn a key within one
 * refresh interval of its creation, so a next key younger than two intervals (the margin
 * of key-ring.ts) is not promoted, nor is there a rotation without a next key. This also keeps
 * a double-clicked Rotate from rotating twice.
 */
function secondsUntilRotatable(keys: KeySet, refreshSeconds: number): number {
  const next = keys.signing.find((k) => k.state === 'next');
  // No next key (just retired): a rotation would make current a key made now, which no other
  // process publishes yet. The key ring makes a new next key at its next refresh.
  if (!next) return 2 * refreshSeconds;
  return Math.max(0, Math.ceil((next.createdAt.getTime() + 2 * refreshSeconds * 1000 - Date.now()) / 1000));
}

/**
 * The key ring refreshes one at a time and hands a caller the refresh already running,
 * which may have read the keys before this change committed: the second call starts
 * after it, so this process serves the new keys from the next request on.
 */
async function installNow(keyRing: Pick<KeyRing, 'refresh'>): Promise<void> {
  await keyRing.refresh();
  await keyRing.refresh();
}
