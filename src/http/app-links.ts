import type { ClientRegistry } from '../clients/registry.ts';

/**
 * Where a link back to an app leads (signed-out and error pages): its first post-logout
 * URI, else the origin of its first redirect URI. Only configured URIs, never one taken
 * from the request, so the link cannot be aimed elsewhere.
 */
export function clientReturnUrl(clients: Pick<ClientRegistry, 'get'>, clientId: unknown): string | undefined {
  const client = clients.get(clientId);
  if (!client) return undefined;
  return client.postLogoutRedirectUris[0] ?? `${new URL(client.redirectUris[0]!).origin}/`;
}
