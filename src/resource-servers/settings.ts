import { z } from 'zod';

/** Scopes Doorman itself defines: an API's scopes may not reuse them (their tokens would mean two things). */
export const DOORMAN_SCOPES: ReadonlySet<string> = new Set(['openid', 'offline_access', 'email', 'profile', 'groups', 'admin']);

// RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`.
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/, 'must be a scope token (RFC 6749 §3.3): printable ASCII without space, " or \\')
  .refine((s) => !DOORMAN_SCOPES.has(s), 'is one of Doorman\'s own scopes');

export const resourceServerSchema = z.strictObject({
  identifier: z.url().refine((u) => URL.canParse(u) && !new URL(u).hash && !u.includes('#'), 'must be an absolute URI without a fragment (RFC 8707 §2)')
    .describe('The API\'s resource indicator (RFC 8707), e.g. https://api.example.com/: apps send it as `resource`, compared as an exact string, and it is the `aud` of its tokens.'),
  scopes: z.array(scopeToken).default([])
    .describe('Scopes of this API that apps may ask for; others in the same request are dropped from its token (the token response\'s `scope` says what was granted).'),
  accessTokenFormat: z.enum(['jwt', 'opaque']).default('jwt')
    .describe('`jwt`: signed RFC 9068 tokens the API verifies offline with Doorman\'s JWKS (not stored, so not revocable: keep the lifetime short). `opaque`: stored tokens the API checks by introspection (a client listing the app in `canIntrospect`).'),
  accessTokenLifetime: z.number().int().positive().max(24 * 3600).default(600)
    .describe('Lifetime of this API\'s access tokens in seconds.'),
  clients: z.array(z.string()).optional()
    .describe('Client ids that may get tokens for this API (with any of their grant types). Default: every client.'),
});
export type ResourceServerSettings = z.infer<typeof resourceServerSchema>;
