import { canonicalEmail } from '../accounts/email.ts';

/**
 * Which upstream a login goes to without the login page, and in what order the page
 * offers them. Pure: the handler (login.ts) supplies the app's allowed upstreams, the
 * authorization request's hints and the upstream this browser used last.
 */
export interface UpstreamOption { id: string; domains: readonly string[] }

export interface LoginHints {
  /** `idp_hint`, or Keycloak's `kc_idp_hint`: an upstream id. */
  idpHint?: string | undefined;
  /** OIDC Core §3.1.2.1 `login_hint`: often the person's email. */
  loginHint?: string | undefined;
}

export function hintsFrom(params: Record<string, unknown>): LoginHints {
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : undefined);
  return { idpHint: text(params.idp_hint) ?? text(params.kc_idp_hint), loginHint: text(params.login_hint) };
}

/**
 * The upstream to go straight to, or undefined to show the login page: the only one the
 * app allows; else the one `idp_hint` names; else the one whose `domains` hold the email
 * domain of `login_hint` (home-realm discovery). A hint naming an upstream the app may not
 * use is ignored rather than refused: the person still gets the page.
 */
export function upstreamToSkipTo(allowed: readonly UpstreamOption[], hints: LoginHints): string | undefined {
  if (allowed.length === 1) return allowed[0]!.id;
  if (hints.idpHint && allowed.some((u) => u.id === hints.idpHint)) return hints.idpHint;
  const domain = emailDomain(hints.loginHint);
  if (!domain) return undefined;
  return allowed.find((u) => u.domains.includes(domain))?.id;
}

/**
 * The domain of an email-shaped hint, in the canonical form accounts/email.ts compares
 * emails in (ASCII-only case mapping: `corp.exampl\u212A`, with KELVIN SIGN, is not
 * `corp.example`); undefined for anything that is not an email address.
 */
export function emailDomain(hint: string | undefined): string | undefined {
  return hint ? canonicalEmail(hint.trim())?.split('@')[1] : undefined;
}

/** The login page's order: the upstream used last in this browser first, then config order. */
export function orderForChooser<T extends { id: string }>(allowed: readonly T[], lastUsed: string | undefined): { lastUsed: T | undefined; others: T[] } {
  const last = allowed.find((u) => u.id === lastUsed);
  return { lastUsed: last, others: allowed.filter((u) => u !== last) };
}
