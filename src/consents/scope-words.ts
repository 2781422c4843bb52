/**
 * What each scope lets an app do, in the words the consent and Account pages use: the
 * message key (locales/, `scope.<name>`) of each known scope; an unknown scope is shown
 * as its name (a key the catalog lacks is shown as is).
 */
const KNOWN_SCOPES = new Set(['email', 'profile', 'offline_access', 'groups', 'admin']);

/** Message keys for each scope, `openid` left out (it only says "this is a sign-in"). */
export function describeScopes(scopes: Iterable<string>): string[] {
  return [...scopes].filter((s) => s && s !== 'openid').map((s) => (KNOWN_SCOPES.has(s) ? `scope.${s}` : s));
}
