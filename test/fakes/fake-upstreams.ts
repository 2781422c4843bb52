import { startFacebookLookalike, type FacebookLookalike, type FacebookUser } from '../../src/demo/facebook-lookalike.ts';
import { startGithubLookalike, type GithubLookalike, type GithubUser } from '../../src/demo/github-lookalike.ts';
import { startOidcLookalike, type OidcLookalike, type OidcLookalikeUser } from '../../src/demo/oidc-lookalike.ts';

/**
 * The GitHub, Facebook and generic-OIDC doubles for tests: the loopback servers the demo
 * ships (src/demo), with test users that exercise each quirk.
 */
export const GITHUB_CLIENT = { clientId: 'Iv1.doorman0test', clientSecret: 'github-test-secret' } as const;
export const OAUTH2_CLIENT = { clientId: 'Iv1.doorman0oauth2', clientSecret: 'oauth2-test-secret' } as const;
export const FACEBOOK_APP = { appId: '1234567890123456', appSecret: 'facebook-app-secret' } as const;
export const OIDC_CLIENT = { clientId: 'doorman-at-example', clientSecret: 'example-oidc-secret' } as const;

export const OCTOCAT: GithubUser = {
  id: 583231, login: 'octocat', name: 'The Octocat', email: null,
  emails: [{ email: 'Octocat@GitHub.example', primary: true, verified: true }, { email: 'old@github.example', primary: false, verified: false }],
  orgs: ['acme'], teams: [{ org: 'acme', slug: 'platform' }],
};
export const NEWBIE: GithubUser = {
  id: 9000001, login: 'newbie', name: null, email: 'newbie@example.com',
  emails: [{ email: 'newbie@example.com', primary: true, verified: false }], orgs: ['hobby'],
};

/** Alice's own GitHub account: same email as her Google account, verified by GitHub. */
export const ALICE_GH: GithubUser = {
  id: 4242, login: 'alice-gh', name: 'Alice on GitHub', email: null, emails: [{ email: 'alice@example.com', primary: true, verified: true }],
};
/** An attacker who typed Alice's email into a GitHub profile without verifying it. */
export const MALLORY_GH: GithubUser = {
  id: 6666, login: 'mallory', name: 'Mallory', email: 'alice@example.com', emails: [{ email: 'alice@example.com', primary: true, verified: false }],
};

export const FB_MARK: FacebookUser = { id: '10160000000000001', name: 'Mark Example', email: 'mark@example.com' };
export const FB_PHONE_ONLY: FacebookUser = { id: '10160000000000002', name: 'Phone Only' };
/** An attacker whose Facebook account carries Alice's email (Facebook never says whether it is verified). */
export const FB_MALLORY: FacebookUser = { id: '10160000000000666', name: 'Mallory', email: 'alice@example.com' };
/** Alice's own Facebook account (Facebook never says the email is verified). */
export const FB_ALICE: FacebookUser = { id: '10160000000000042', name: 'Alice on Facebook', email: 'alice@example.com' };

export const DANA: OidcLookalikeUser = { sub: 'f3c1-dana', email: 'Dana@Corp.example', email_verified: true, name: 'Dana Corp', preferred_username: 'dana', groups: ['engineering', 'admins'] };
export const KIM: OidcLookalikeUser = { sub: 'a7d2-kim', email: 'kim@example.com', email_verified: true, name: 'Kim Example', preferred_username: 'kim' };
/** Issue #9: U+212A KELVIN SIGN, which toLowerCase turns into "k"; the upstream says it is verified. */
export const KELVIN: OidcLookalikeUser = { sub: 'e666-kelvin', email: '\u212Aim@example.com', email_verified: true, name: 'Not Kim', preferred_username: 'notkim' };
/** Signs in with a second factor: the look-alike's ID token carries `amr` and `acr`. */
export const MO_MFA: OidcLookalikeUser = { sub: 'c9-mo-mfa', email: 'mo@corp.example', email_verified: true, name: 'Mo Factor', authentication: { amr: ['pwd', 'mfa'], acr: 'mfa' } };
/** An `acr` Doorman's config does not list for the upstream (`loa-unlisted`). */
export const LEE_UNLISTED_ACR: OidcLookalikeUser = { sub: 'c10-lee', email: 'lee@corp.example', email_verified: true, name: 'Lee Level', authentication: { amr: ['pwd'], acr: 'loa-unlisted' } };
/** `amr: ["mfa"]` only in the unsigned profile (userinfo), none in the ID token. */
export const PAT_PROFILE_MFA: OidcLookalikeUser = { sub: 'c11-pat', email: 'pat@corp.example', email_verified: true, name: 'Pat Profile', amr: ['mfa'] };
/** Alice at a corporate OIDC provider with a second factor; Google already vouches for her email. */
export const ALICE_CORP_MFA: OidcLookalikeUser = { sub: 'c12-alice-corp', email: 'alice@example.com', email_verified: true, name: 'Alice at Corp', authentication: { amr: ['pwd', 'mfa'], acr: 'mfa' } };
/** The same person as KIM_IDN_ASCII, at a domain given as a Unicode U-label. */
export const KIM_IDN_UNICODE: OidcLookalikeUser = { sub: 'b1-kim-idn', email: 'Kim@b\u00fccher.example', email_verified: true, name: 'Kim Bücher' };

export function startFakeGithub(doormanIssuer: string): Promise<GithubLookalike> {
  return startGithubLookalike({
    clients: [
      { ...GITHUB_CLIENT, redirectUri: `${doormanIssuer}/upstream/github/callback` },
      { ...OAUTH2_CLIENT, redirectUri: `${doormanIssuer}/upstream/oauth2/callback` },
    ],
    users: [OCTOCAT, NEWBIE, ALICE_GH, MALLORY_GH],
  });
}

export function startFakeFacebook(doormanIssuer: string): Promise<FacebookLookalike> {
  return startFacebookLookalike({ ...FACEBOOK_APP, redirectUri: `${doormanIssuer}/upstream/facebook/callback`, users: [FB_MARK, FB_PHONE_ONLY, FB_MALLORY, FB_ALICE] });
}

/** On 127.0.0.2: a host of its own, so its cookies and Doorman's live apart as on real sites. */
export function startFakeOidcIssuer(doormanIssuer: string): Promise<OidcLookalike> {
  return startOidcLookalike({ ...OIDC_CLIENT, redirectUri: `${doormanIssuer}/upstream/oidc/callback`, users: [DANA, KIM, KELVIN, KIM_IDN_UNICODE, MO_MFA, LEE_UNLISTED_ACR, PAT_PROFILE_MFA, ALICE_CORP_MFA], host: '127.0.0.2' });
}
