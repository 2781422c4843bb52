/**
 * The claims an account shows apps, chosen the same way at every request so they do not
 * follow whichever identity signed in last (issue #8: one Facebook sign-in used to turn
 * `email_verified` false for every app). Pure: the repository loads the rows.
 *
 * - email: the account's primary email (canonical form), else that of its first identity;
 * - email_verified: some linked identity's upstream verified exactly that address
 *   (canonical comparison, ./email.ts);
 * - name, picture, username: from the first identity that verified the primary email,
 *   else from the first linked identity;
 * - groups: the union over all its identities.
 */

/** One linked identity, oldest first. */
export interface ProfileSource {
  email: string | null;
  emailCanonical: string | null;
  emailVerified: boolean;
  name?: string | null;
  picture?: string | null;
  username?: string | null;
  groups?: string[] | null;
}

export interface AccountProfile {
  accountId: string;
  email: string | null;
  emailVerified: boolean;
  name?: string;
  picture?: string;
  username?: string;
  /** Union of the groups of all its identities (each already carrying its upstream's prefix). */
  groups: string[];
}

export function composeProfile(accountId: string, primaryEmail: string | null, identities: readonly ProfileSource[]): AccountProfile {
  const vouching = primaryEmail ? identities.find((i) => i.emailVerified && i.emailCanonical === primaryEmail) : undefined;
  const source = vouching ?? identities[0];
  const email = primaryEmail ?? source?.emailCanonical ?? source?.email ?? null;
  return {
    accountId,
    email,
    emailVerified: vouching !== undefined,
    ...(source?.name ? { name: source.name } : {}),
    ...(source?.picture ? { picture: source.picture } : {}),
    ...(source?.username ? { username: source.username } : {}),
    groups: [...new Set(identities.flatMap((i) => i.groups ?? []))].sort(),
  };
}

/** The addresses the account may choose as primary: those an identity's upstream verified, in canonical form. */
export function verifiedEmails(identities: readonly Pick<ProfileSource, 'emailCanonical' | 'emailVerified'>[]): string[] {
  return [...new Set(identities.filter((i) => i.emailVerified && i.emailCanonical).map((i) => i.emailCanonical!))];
}
