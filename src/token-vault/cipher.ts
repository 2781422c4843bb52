import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for stored upstream tokens. Each row names the key that sealed it, so keys
 * rotate without a flag day: the current key seals, retired keys only open. The row's
 * identity id is the additional authenticated data, so a sealed value copied onto
 * another person's row does not open (the swap fails instead of handing out her token).
 */
export interface VaultKey { id: string; secret: string; retired: boolean }

export interface TokenCipher {
  /** Id of the key that seals. */
  readonly currentKeyId: string;
  seal(plaintext: string, boundTo: string): { keyId: string; sealed: string };
  /** Throws TokenVaultKeyError when the key is not configured, and when the value was altered or bound to something else. */
  open(keyId: string, sealed: string, boundTo: string): string;
}

export class TokenVaultKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenVaultKeyError';
  }
}

const IV_BYTES = 12; // NIST SP 800-38D: 96-bit IVs, random per message
const TAG_BYTES = 16;
const FORMAT = 'v1';

export function createTokenCipher(keys: readonly VaultKey[]): TokenCipher {
  const byId = new Map(keys.map((k) => [k.id, Buffer.from(k.secret, 'base64')]));
  const current = keys.find((k) => !k.retired);
  if (!current) throw new TokenVaultKeyError('tokenVault.keys: no key that is not retired');
  const key = (id: string) => {
    const found = byId.get(id);
    if (!found) throw new TokenVaultKeyError(`token vault key "${id}" is not in tokenVault.keys (still list it, retired: true)`);
    return found;
  };
  return {
    currentKeyId: current.id,
    seal(plaintext, boundTo) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key(current.id), iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(boundTo));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return { keyId: current.id, sealed: `${FORMAT}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}` };
    },
    open(keyId, sealed, boundTo) {
      const [format, data] = sealed.split('.');
      if (format !== FORMAT || !data) throw new TokenVaultKeyError('stored token is not in a known format');
      const raw = Buffer.from(data, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key(keyId), raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new TokenVaultKeyError(`stored token does not open with key "${keyId}" (altered, moved to another identity, or a different key under that id)`);
      }
    },
  };
}
