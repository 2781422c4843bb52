import { domainToASCII, domainToUnicode } from 'node:url';

/**
 * Doorman's one rule for comparing email addresses (linking, link offers, the primary
 * email, admin search). Two addresses are the same only when both have the same
 * canonical form; an address without one is never compared with anything, so it can
 * never reach another account.
 *
 * Canonical form: ASCII local part, lowercased (RFC 5321 §2.4 lets the local part be
 * case-sensitive, but every real mailbox provider ignores ASCII case), "@", the domain
 * as its IDNA A-label (punycode, lowercase). An address has one only when it is already
 * in that form up to ASCII case, or its domain is the exact U-label of that A-label:
 *
 * - the local part is a plain dot-atom (RFC 5322 §3.2.3) of ASCII: no quoted strings, no
 *   comments, no Unicode. JavaScript's toLowerCase would turn KELVIN SIGN U+212A into
 *   "k", and "İ" into "i" plus a combining dot, so lowercasing anything but A-Z hands an
 *   attacker a way to spell someone else's address;
 * - the domain is ASCII LDH labels (RFC 5321 §4.1.2) after UTS #46 processing, and the
 *   domain as given is either that A-label or its U-label exactly: fullwidth letters,
 *   a Kelvin sign or a decomposed "é", which IDNA maps silently, do not pass;
 * - no address longer than 254 octets, local part over 64 or label over 63 (RFC 5321
 *   §4.5.3.1), no control characters.
 */

const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LDH_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The address's canonical form, or undefined when it has none (and so matches nothing). */
export function canonicalEmail(address: string): string | undefined {
  if (address.length > 254) return undefined;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at > 64) return undefined;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!DOT_ATOM.test(local)) return undefined;
  const ascii = domainToASCII(domain);
  if (!ascii || !ascii.split('.').every((label) => LDH_LABEL.test(label))) return undefined;
  const given = lowerAscii(domain);
  if (given !== ascii && given !== domainToUnicode(ascii)) return undefined;
  return `${lowerAscii(local)}@${ascii}`;
}

/** Lowercases A-Z only: the one case mapping that cannot turn one address into another's. */
export function lowerAscii(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}
