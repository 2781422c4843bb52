import { z } from 'zod';

/**
 * Per-app claim settings (README "Claims per app"): keys of `clients[]` in the config,
 * carried to oidc-provider as client metadata (client-claims.ts) so they travel with the
 * client wherever it is defined.
 */

/**
 * Claims Doorman or the protocol already define: a static claim may not replace them, so an
 * app's config can never forge `sub`, `aud`, `email` or `groups` (OIDC Core §5.1, RFC 7519 §4.1).
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'at_hash', 'c_hash', 's_hash', 'sid',
  'client_id', 'scope', 'cnf', 'act', 'may_act', 'events', 'typ', 'kid',
  'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website',
  'email', 'email_verified', 'gender', 'birthdate', 'zoneinfo', 'locale', 'phone_number', 'phone_number_verified', 'address', 'updated_at',
  'groups',
]);

function claimNameProblem(name: string): string | undefined {
  if (!/^[\x21-\x7E]{1,100}$/.test(name)) return 'must be 1 to 100 printable ASCII characters without spaces';
  if (RESERVED_CLAIMS.has(name)) return 'is a standard claim Doorman sets itself';
  return undefined;
}

export const groupsFilterSchema = z.strictObject({
  prefixes: z.array(z.string().min(1)).default([]).describe('Groups starting with one of these are shown.'),
  names: z.array(z.string().min(1)).default([]).describe('Groups named exactly one of these are shown.'),
});
export type GroupsFilter = z.infer<typeof groupsFilterSchema>;

export const staticClaimsSchema = z.record(z.string(), z.json())
  .superRefine((claims, ctx) => {
    for (const name of Object.keys(claims)) {
      const problem = claimNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
    if (JSON.stringify(claims).length > 4000) ctx.addIssue({ code: 'custom', message: 'must be at most 4000 characters as JSON' });
  });

export const clientClaimSettingsShape = {
  groupsFilter: groupsFilterSchema.optional()
    .describe('Which of a person\'s groups this app sees in its `groups` claim (userinfo, and its access tokens for APIs): those matching `prefixes` or `names`. Default: all of them.'),
  staticClaims: staticClaimsSchema.default({})
    .describe('Extra claims with fixed values that this app (and no other) receives at userinfo with scope openid, e.g. `{tenant: acme}`. Standard claim names are refused.'),
  subjectType: z.enum(['public', 'pairwise']).default('public')
    .describe('`pairwise`: this app sees a `sub` of its own for each person (OIDC Core §8.1), so apps on other hosts cannot match their users with it. The sector is the host of the redirect URIs, which must all share one host.'),
};
