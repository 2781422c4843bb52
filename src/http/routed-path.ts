import { lowerAscii } from '../accounts/email.ts';

/**
 * The path as the routers see it, for matching one of oidc-provider's routes from a
 * middleware in front of it: oidc-provider's router (lib/helpers/router.js) and
 * @koa/router both ignore ASCII case and one trailing slash, so `/TOKEN/` is the token
 * endpoint. Only A-Z are folded: neither router maps other letters onto ASCII ones.
 */
export function routedPath(path: string): string {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return lowerAscii(trimmed);
}
