import { createHash } from 'node:crypto';

/**
 * The S256 code_challenge of RFC 7636 §4.2, BASE64URL(SHA-256(verifier)), computed in one
 * synchronous call: openid-client's calculatePKCECodeChallenge goes through WebCrypto's
 * asynchronous digest, which cost more CPU per login than building the rest of the
 * upstream request (bench/profile.ts).
 */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}
