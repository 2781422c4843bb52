import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * CSRF tokens for the interaction forms: an HMAC of the interaction uid under the cookie
 * secrets. A forged cross-site POST has neither the token nor (SameSite=Lax) the
 * interaction cookie. Verification accepts any current secret so rotation does not break
 * pages already open.
 */
export function createCsrf(secrets: readonly string[]) {
  const sign = (secret: string, uid: string) => createHmac('sha256', secret).update(`csrf:${uid}`).digest('base64url');
  return {
    tokenFor: (uid: string): string => sign(secrets[0]!, uid),
    isValid(uid: string, token: unknown): boolean {
      if (typeof token !== 'string' || token.length === 0) return false;
      const given = Buffer.from(token);
      return secrets.some((s) => {
        const expected = Buffer.from(sign(s, uid));
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
    },
  };
}
export type Csrf = ReturnType<typeof createCsrf>;
