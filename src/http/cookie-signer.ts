import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Signs and checks signed cookies (ours and oidc-provider's) for Koa's `cookies`, in
 * place of the keygrip it would build from an array of secrets on every request. The
 * signatures are keygrip's, byte for byte (HMAC-SHA1, base64url without padding), so
 * cookies signed before an upgrade still hold. What it saves, on every signed cookie
 * read or set: keygrip makes each string secret into a key again for every HMAC, and
 * compares with tsscmp (a random key and two more HMACs per comparison); here each
 * secret is a KeyObject made once, and the comparison is crypto.timingSafeEqual.
 *
 * `secrets` is the key ring's array, current secret first, changed in place when the
 * cookie secrets rotate (keys/key-ring.ts): read on every call, so a rotation applies at once.
 */
export class CookieSigner {
  readonly #secrets: readonly string[];
  readonly #keys = new Map<string, KeyObject>();

  constructor(secrets: readonly string[]) {
    this.#secrets = secrets;
  }

  sign(data: string): string {
    return this.#hmac(this.#secrets[0]!, data);
  }

  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1;
  }

  /** Which secret signed `data` as `digest` (0 = the current one), or -1. */
  index(data: string, digest: unknown): number {
    if (typeof digest !== 'string') return -1;
    const given = Buffer.from(digest);
    for (let i = 0; i < this.#secrets.length; i++) {
      const expected = Buffer.from(this.#hmac(this.#secrets[i]!, data));
      if (expected.length === given.length && timingSafeEqual(expected, given)) return i;
    }
    return -1;
  }

  #hmac(secret: string, data: string): string {
    let key = this.#keys.get(secret);
    if (!key) {
      // A rotation retired some secrets: forget their keys.
      for (const known of this.#keys.keys()) if (!this.#secrets.includes(known)) this.#keys.delete(known);
      key = createSecretKey(Buffer.from(secret));
      this.#keys.set(secret, key);
    }
    return createHmac('sha1', key).update(data).digest('base64url');
  }
}
