import { startGoogleLookalike, type GoogleLookalike, type LookalikeUser } from '../../src/demo/google-lookalike.ts';

/**
 * The Google double for tests: the same loopback server the demo uses (kept in src/demo
 * so the demo can ship it), registered with one OAuth client for Doorman.
 */
export const GOOGLE_CLIENT = { clientId: 'doorman.apps.googleusercontent.com', clientSecret: 'GOCSPX-test-secret' } as const;

export const ALICE: LookalikeUser = { sub: '110169484474386276334', email: 'Alice@Example.com', email_verified: true, name: 'Alice Example', picture: 'https://lh3.googleusercontent.com/a/alice', hd: 'example.com' };
export const MALLORY_UNVERIFIED: LookalikeUser = { sub: '110169484474386276999', email: 'alice@example.com', email_verified: false, name: 'Not Alice' };
export const STRING_VERIFIED: LookalikeUser = { sub: '110169484474386277000', email: 'bob@example.com', email_verified: 'true', name: 'Bob Stringly' };
/** Kim's IDN address as an A-label (punycode), verified by Google. */
export const KIM_IDN_ASCII: LookalikeUser = { sub: '110169484474386277222', email: 'kim@xn--bcher-kva.example', email_verified: true, name: 'Kim Bücher' };
export const OUTSIDER: LookalikeUser = { sub: '110169484474386277111', email: 'eve@other.org', email_verified: true, name: 'Eve Outsider', hd: 'other.org' };

export function startFakeGoogle(redirectUris: string[], users: LookalikeUser[] = [ALICE, MALLORY_UNVERIFIED, STRING_VERIFIED, OUTSIDER, KIM_IDN_ASCII]): Promise<GoogleLookalike> {
  return startGoogleLookalike({ clients: [{ ...GOOGLE_CLIENT, redirectUris }], users });
}
