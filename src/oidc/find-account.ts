import type { FindAccount } from 'oidc-provider';
import type { AccountProfile } from '../accounts/profile.ts';

/**
 * oidc-provider's view of an account. A disabled or unknown account is "not found", which
 * makes oidc-provider end the session and refuse its tokens at userinfo. `findProfile` is
 * accounts/profile-cache.ts in the app.
 */
export function createFindAccount(findProfile: (accountId: string) => Promise<AccountProfile | undefined>): FindAccount {
  return async (_ctx, sub) => {
    const profile = await findProfile(sub);
    if (!profile) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: profile.email ?? undefined,
          email_verified: profile.email ? profile.emailVerified : undefined,
          name: profile.name,
          picture: profile.picture,
          preferred_username: profile.username,
          groups: profile.groups,
        };
      },
    };
  };
}
