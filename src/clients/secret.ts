import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Secrets of database clients. Doorman makes them (32 random bytes), shows them once and
 * keeps only a SHA-256 hash. A fast hash is enough for a 256-bit random value (nothing to
 * guess, unlike a password), and a slow one would let anyone load the CPU through the
 * token endpoint. A hash cannot key an HMAC, so client_secret_jwt is not offered to these
 * clients (provider-clients.ts).
 */
const PREFIX = 'sha256:';

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string): string {
  return PREFIX + createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** Constant-time comparison of `presented` with a stored hash. */
export function isClientSecretValid(presented: unknown, storedHash: string): boolean {
  if (typeof presented !== 'string' || !storedHash.startsWith(PREFIX)) return false;
  const a = Buffer.from(hashClientSecret(presented));
  const b = Buffer.from(storedHash);
  return a.length === b.length && timingSafeEqual(a, b);
}
