import type { Config } from '../config/load.ts';

/**
 * Where a link back to an app leads (signed-out and error pages): its first post-logout
 * URI, else the origin of its first redirect URI (a device-only client has neither: no
 * link). Only configured URIs, never one taken from the request, so the link cannot be
 * aimed elsewhere.
 */
export function clientReturnUrl(config: Config, clientId: unknown): string | undefined {
  const client = config.clients.find((c) => c.clientId === clientId);
  if (!client) return undefined;
  const redirect = client.redirectUris[0];
  return client.postLogoutRedirectUris[0] ?? (redirect === undefined ? undefined : `${new URL(redirect).origin}/`);
}
