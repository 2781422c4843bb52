import type { Configuration } from 'oidc-provider';
import type { Config } from '../config/load.ts';
import { DEVICE_CODE_GRANT } from './grant.ts';
import type { DevicePages } from './pages.ts';

type DeviceFlowFeature = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

/**
 * On only when a configured client may use the device grant: oidc-provider then serves
 * /device/auth and /device and its discovery names `device_authorization_endpoint` and
 * the grant, so discovery says exactly what some client can use (it advertises the
 * endpoint whenever the feature is on; nothing forces it on).
 */
export function isDeviceFlowEnabled(config: Config): boolean {
  return config.clients.some((c) => c.grantTypes.includes(DEVICE_CODE_GRANT));
}

/** oidc-provider's `features.deviceFlow`, with Doorman's pages. */
export function deviceFlowFeature(config: Config, pages: DevicePages): DeviceFlowFeature {
  return {
    enabled: isDeviceFlowEnabled(config),
    // 20 consonants (no vowels: no words, no 0/O or 1/I to confuse), 8 of them: 20^8 ≈ 2^34.6
    // codes, RFC 8628 §6.1's example. Case and the dash do not matter when typed.
    charset: 'base-20',
    mask: '****-****',
    userCodeInputSource: (ctx, form, out, err) => pages.userCodeInput(ctx, form, out, err),
    userCodeConfirmSource: (ctx, form, client, deviceInfo, userCode) => pages.userCodeConfirm(ctx, form, client, deviceInfo, userCode),
    successSource: (ctx) => pages.success(ctx),
  };
}

/**
 * oidc-provider's `expiresWithSession`: its default (tokens without offline_access end with
 * the browser session they came from), except for a device code. The device is not that
 * browser: bound to it, a device code approved by a person who then signs out of the
 * browser (or polled while the approval is still being saved: oidc-provider stores the code
 * before the session that names its grant) is "not found", and the device loses the
 * sign-in it was just given (invalid_grant).
 */
export function expiresWithSession(_ctx: unknown, source: { kind: string; scopes: Set<string> }): boolean {
  return source.kind !== 'DeviceCode' && !source.scopes.has('offline_access');
}
