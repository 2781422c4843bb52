import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { DEVICE_CODE_GRANT } from '../../src/device/grant.ts';

/** Device-flow clients: a first-party public CLI and a third-party public TV app. */
export const CLI = { clientId: 'deploy-cli', name: 'Deploy CLI', grantTypes: [DEVICE_CODE_GRANT, 'refresh_token'], firstParty: true };
export const TV = { clientId: 'lobby-tv', name: 'Lobby TV', grantTypes: [DEVICE_CODE_GRANT] };

/** openid-client's polling as the device does it, faster than the default 5 s so tests stay short. */
export function pollDevice(device: oidc.Configuration, started: oidc.DeviceAuthorizationResponse) {
  return oidc.pollDeviceAuthorizationGrant(device, { ...started, interval: 0.2 }, undefined, { signal: AbortSignal.timeout(20_000) });
}

/** The OAuth error `promise` (a device request or its polling) ends with. */
export async function deviceError(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(() => assert.fail('expected the device to get an error'), (e: unknown) => e);
  // A refused client authentication is a 401 whose error is in WWW-Authenticate.
  if (err instanceof oidc.WWWAuthenticateChallengeError) return err.cause[0]?.parameters.error ?? String(err);
  assert.ok(err instanceof oidc.ResponseBodyError, String(err));
  return err.error;
}
