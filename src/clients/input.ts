import { z } from 'zod';
import { clientSchema, redirectUriProblem } from '../config/schema.ts';
import type { Config } from '../config/load.ts';
import { ACCOUNT_CLIENT_ID } from '../self-service/session.ts';

/**
 * What an admin may set on a database client (console form, admin API body, CLI flags),
 * checked by the config file's own rules (config/schema.ts) plus limits for stored text.
 * Redirect URIs are http(s) only: runtime clients are web apps to oidc-provider, which
 * refuses other schemes for them ("redirect_uris must only contain web uris").
 */

const MAX_URIS = 20;
const text = (max: number, what: string) => z.string().trim()
  .min(1, `${what} is required`).max(max, `${what} is at most ${max} characters`)
  .refine((s) => !/[\p{Cc}\p{Cs}]/u.test(s), `${what} must not contain control characters`);

const uri = z.string().trim().max(2000, 'a URI is at most 2000 characters')
  // The URL parser takes a NUL or a lone surrogate in a path, which PostgreSQL cannot store.
  .refine((s) => !/[\p{Cc}\p{Cs}]/u.test(s), 'a URI must not contain control characters')
  .pipe(z.url('not a URL')).superRefine((value, ctx) => {
  // Refinements run even after z.url() refused the value (a non-aborting issue), which already said so.
  if (!URL.canParse(value)) return;
  const { protocol } = new URL(value);
  if (protocol !== 'https:' && protocol !== 'http:') ctx.addIssue({ code: 'custom', message: `${value.slice(0, 100)}: must be an https (or loopback http) URL` });
  const problem = redirectUriProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `${value.slice(0, 100)}: ${problem}` });
});

/** The settings an admin edits; everything has the config file's default. */
export const clientSettingsSchema = z.strictObject({
  name: text(100, 'the name'),
  redirectUris: z.array(uri).min(1, 'at least one redirect URI is required').max(MAX_URIS, `at most ${MAX_URIS} redirect URIs`),
  postLogoutRedirectUris: z.array(uri).max(MAX_URIS, `at most ${MAX_URIS} post-logout URIs`).default([]),
  firstParty: clientSchema.shape.firstParty,
  upstreams: z.array(z.string().max(100)).max(100).default([]),
  // The device grant stays a config-file setting: oidc-provider's device endpoints are on
  // only when a config-file client uses it (src/device/settings.ts).
  grantTypes: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).min(1, 'choose at least one grant type').default(['authorization_code', 'refresh_token']),
  allowSignup: clientSchema.shape.allowSignup,
  pkce: z.enum(['required', 'optional']).default('required'),
});
export type ClientSettingsInput = z.infer<typeof clientSettingsSchema>;

export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$/;

export const newClientSchema = clientSettingsSchema.extend({
  // URL-safe (RFC 3986 unreserved), so it sits in console and API paths as it is.
  clientId: z.string().trim().regex(CLIENT_ID_PATTERN, 'the client id is 1 to 100 letters, digits, ".", "_", "~" or "-", starting with a letter or digit'),
  /** A public client (SPA, native app) has no secret and always needs PKCE. */
  public: z.boolean().default(false),
});
export type NewClientInput = z.infer<typeof newClientSchema>;

/** Checks that need the running configuration; one message per problem. */
export function settingsProblems(config: Config, s: ClientSettingsInput, isPublic: boolean): string[] {
  const known = new Set(config.upstreams.map((u) => u.id));
  const problems = s.upstreams.filter((id) => !known.has(id)).map((id) => `there is no upstream with the id "${id.slice(0, 100)}"`);
  if (isPublic && s.pkce === 'optional') problems.push('a public client always needs PKCE: choose required');
  if (isPublic && s.grantTypes.includes('client_credentials')) problems.push('client_credentials needs a confidential client');
  return problems;
}

/** Why `clientId` cannot be used for a new database client, or undefined. */
export function clientIdProblem(config: Config, clientId: string): string | undefined {
  if (clientId === ACCOUNT_CLIENT_ID) return `"${clientId}" is Doorman's own Account page client`;
  if (config.clients.some((c) => c.clientId === clientId)) return `"${clientId}" is a client of the config file`;
  return undefined;
}

/** Zod's issues as `field: message` lines, for a page, an API error or the terminal. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const path = i.path.filter((p) => typeof p === 'string').join('.');
    return path ? `${path}: ${i.message}` : i.message;
  });
}
