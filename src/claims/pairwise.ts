import { createHmac } from 'node:crypto';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';

/**
 * oidc-provider's `pairwiseIdentifier`: OIDC Core §8.1's construction with an HMAC, keyed by
 * a secret salt kept in the database (repository.ts), of the client's sector (the host of its
 * redirect URIs) and the account id. The same person gets the same `sub` at every app of one
 * sector and a different one elsewhere; without the salt, an app knowing a person's public
 * `sub` (the account id) could compute their pairwise one.
 */
export function createPairwiseIdentifier(salt: string) {
  return (_ctx: KoaContextWithOIDC, accountId: string, client: Client): string => {
    // oidc-provider computes it (lib/helpers/sector_identifier.js); @types/oidc-provider omits the getter.
    const sector = (client as Client & { sectorIdentifier?: string }).sectorIdentifier;
    if (!sector) throw new Error(`client ${client.clientId} has no sector identifier for pairwise subjects`);
    return createHmac('sha256', salt).update(`${sector}\n${accountId}`).digest('base64url');
  };
}
