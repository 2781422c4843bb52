import type { ErrorOut, KoaContextWithOIDC } from 'oidc-provider';
import { describeScopes } from '../consents/scope-words.ts';
import { isDatabaseUnavailable } from '../db/outage.ts';
import { renderDatabaseOutage } from '../http/database-outage.ts';
import type { Render } from '../http/render.ts';
import type { ResourceServerSettings } from '../resource-servers/settings.ts';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/**
 * The device flow's three pages (RFC 8628 §3.3), rendered with Doorman's views for
 * oidc-provider's `features.deviceFlow` sources:
 *  - views/device-code.eta: enter the code the device shows (the verification_uri, /device),
 *    again with what went wrong when a code is wrong, expired, used, or the person denied;
 *  - views/device-confirm.eta: which app, what it may see, and the code to compare, before
 *    anything is granted (the defence against a code sent by someone else, RFC 8628 §5.4);
 *  - views/device-done.eta: the device is signed in.
 * The forms carry oidc-provider's own CSRF token (`xsrf`, kept in its session state) and
 * post the fields its code_verification action reads: user_code, and confirm or abort.
 * oidc-provider's ready-made form HTML is not used: it has no label, an English
 * placeholder and an inline script handler.
 */
export interface DevicePages {
  userCodeInput(ctx: KoaContextWithOIDC, form: string, out?: ErrorOut, err?: Error): void;
  userCodeConfirm(ctx: KoaContextWithOIDC, form: string, client: Client, deviceInfo: unknown, userCode: string): void;
  success(ctx: KoaContextWithOIDC): void;
}

/** Where the /device GET left a code from verification_uri_complete (device/requests.ts). */
export const PREFILLED_USER_CODE = 'deviceUserCode';

/** Longer than any code Doorman issues (8 characters and a dash) with room for spaces: what is shown again in the field. */
export const MAX_SHOWN_CODE_LENGTH = 32;

/** What the input page says after each of oidc-provider's outcomes (lib/helpers/re_render_errors.js names them). */
const OUTCOMES: Record<string, { message: string; status: number } | undefined> = {
  NoCodeError: { message: 'device.error.noCode', status: 400 },
  NotFoundError: { message: 'device.error.notFound', status: 400 },
  ExpiredError: { message: 'device.error.expired', status: 400 },
  AlreadyUsedError: { message: 'device.error.used', status: 400 },
};

/** A session oidc-provider made for this request and never stored (only stored ones have `exp`). */
function isUnsavedSession(session: KoaContextWithOIDC['oidc']['session']): boolean {
  return !!session && typeof (session as { exp?: unknown }).exp !== 'number';
}

/**
 * The scopes the device asked for that it can be granted: Doorman's own that this app may ask
 * for, and those declared by the APIs it named with `resource`. When `resource` is given,
 * oidc-provider keeps every scope the device sent, and the confirmation page must not show
 * words the device chose (a message key of Doorman's, "checked by your IT team", ...): it is
 * where a person decides whether a code sent by someone else is safe (RFC 8628 §5.4).
 */
function grantableScopes(params: Record<string, unknown>, client: Client, apis: readonly ResourceServerSettings[]): string[] {
  const named = [params.resource].flat();
  const grantable = new Set([...(client.scope?.split(' ') ?? []), ...apis.filter((a) => named.includes(a.identifier)).flatMap((a) => a.scopes)]);
  return typeof params.scope === 'string' ? params.scope.split(' ').filter((s) => grantable.has(s)) : [];
}

/**
 * `codeSeconds`: the codes' lifetime (ttl.deviceCode), which the page tells a person who
 * typed a wrong one; `apis`: the resource servers, whose scopes a device may ask for.
 */
export function createDevicePages(render: Render, codeSeconds: number, apis: readonly ResourceServerSettings[]): DevicePages {
  const xsrf = (ctx: KoaContextWithOIDC) => (ctx.oidc.session?.state as { secret?: string } | undefined)?.secret ?? '';
  const action = (ctx: KoaContextWithOIDC) => ctx.oidc.urlFor('code_verification');
  const clientName = (client: Client | undefined) => client?.clientName ?? client?.clientId;
  return {
    userCodeInput(ctx, _form, out, err) {
      if (err && isDatabaseUnavailable(err)) return renderDatabaseOutage(render, ctx, action(ctx));
      if (err && isUnsavedSession(ctx.oidc.session)) {
        // A request without a live session cookie (a forged post, cookies off, a page left
        // open for weeks) cannot hold a form of ours. oidc-provider has just put a new form
        // token into the session it made for this request and would re-save it as a stored
        // one, which fails (a 500): the session is left unsaved, and the way on is a new form.
        (ctx.oidc.session as unknown as { touched: boolean }).touched = false;
        return render(ctx, 'error', { message: 'error.csrf', code: 'csrf', retryUrl: action(ctx), retryLabel: 'device.enterAgain' }, ctx.method === 'POST' ? 403 : 400);
      }
      if (out?.error === 'server_error') return render(ctx, 'error', { message: 'error.internal', code: out.error, retryUrl: action(ctx), retryLabel: 'device.enterAgain' }, 500);
      const base = { action: action(ctx), xsrf: xsrf(ctx), minutes: Math.round(codeSeconds / 60) };
      if (err?.name === 'AbortedError') return render(ctx, 'device-code', { ...base, notice: 'device.denied' });
      const typed = (err as { userCode?: unknown } | undefined)?.userCode ?? ctx.state[PREFILLED_USER_CODE];
      const userCode = typeof typed === 'string' && typed.length <= MAX_SHOWN_CODE_LENGTH ? typed : '';
      // Anything else (the form's token missing or stale, a repeated field) means: this form, again.
      const outcome = err ? OUTCOMES[err.name] ?? { message: 'device.error.form', status: 400 } : undefined;
      render(ctx, 'device-code', { ...base, userCode, message: outcome?.message }, outcome?.status ?? 200);
    },
    userCodeConfirm(ctx, _form, client, _deviceInfo, userCode) {
      const scopes = describeScopes(grantableScopes(ctx.oidc.entities.DeviceCode?.params ?? {}, client, apis));
      render(ctx, 'device-confirm', { action: action(ctx), xsrf: xsrf(ctx), userCode, clientName: clientName(client), scopes: scopes.length ? scopes : ['scope.openid'] });
    },
    success(ctx) {
      render(ctx, 'device-done', { clientName: clientName(ctx.oidc.client) });
    },
  };
}
