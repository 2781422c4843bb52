/** What each scope lets an app do, in the words the consent and Account pages use. */
const SCOPE_WORDS: Record<string, string> = {
  email: 'Your email address',
  profile: 'Your name, username and picture',
  offline_access: 'Access while you are away (stay signed in)',
  groups: 'Your group memberships',
  admin: 'Administer Doorman accounts (only if you are an admin)',
};

/** Plain words for each scope, `openid` left out (it only says "this is a sign-in"). */
export function describeScopes(scopes: Iterable<string>): string[] {
  return [...scopes].filter((s) => s && s !== 'openid').map((s) => SCOPE_WORDS[s] ?? s);
}
