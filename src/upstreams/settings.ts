import { z } from 'zod';

/** Config fields every upstream has; each connector file extends them with its own. */
export const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
export const httpUrl = z.url({ protocol: /^https?$/ });
export const httpsUrl = z.url({ protocol: /^https$/ });
/** acr values travel space-separated in `acr_values` (OIDC Core §3.1.2.1): no spaces, printable ASCII. */
export const acrValueSchema = z.string().regex(/^[\x21-\x7E]{1,255}$/, 'printable ASCII without spaces, at most 255 characters');

export const upstreamBaseShape = {
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes')
    .describe('Stable id of this upstream; part of its callback URL /upstream/<id>/callback and of every identity it creates. Do not change it once in use.'),
  clientId: z.string().min(1).describe('OAuth client id (app id) issued by the upstream.'),
  clientSecretEnv: envVarName.optional().describe('Name of the environment variable holding the upstream client secret.'),
  clientSecretFile: z.string().optional().describe('Path of a file holding the upstream client secret (a Docker or Kubernetes secret); instead of clientSecretEnv.'),
  timeoutMs: z.number().int().positive().max(60_000).default(10_000).describe('Time limit for one login at the upstream, in milliseconds: all its calls at the callback (token, keys, userinfo, API calls) together.'),
  groupsPrefix: z.string().default('').describe('Prefix put before this upstream\'s groups in the `groups` claim, e.g. `github:`.'),
  autoLink: z.boolean().default(false).describe('Link a first-time identity to the existing account with the same email without asking, but only when this upstream AND the account\'s identity both say the email is verified. Off: the person is offered to link and must prove ownership of the account.'),
  allowSignup: z.boolean().default(true).describe('A first sign-in with this upstream may create a new account. Off: only identities already linked (by a person or an admin) may sign in.'),
  domains: z.array(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/, 'a DNS domain such as corp.example').transform((d) => d.toLowerCase())).default([])
    .describe('Email domains whose people use this upstream (home-realm discovery): when an app passes `login_hint=someone@<domain>`, the login page is skipped and the person goes straight here.'),
  storeTokens: z.boolean().default(false)
    .describe('Keep this upstream\'s access and refresh tokens for each person, encrypted (tokenVault), refreshed when they expire, so allowed apps can exchange a Doorman access token for them (README "Upstream tokens for apps"). Google: also asks for offline access.'),
  iconUrl: httpsUrl.optional().describe('Image (https) shown on this upstream\'s button instead of the built-in mark (Google, GitHub and Facebook have one; other upstreams show none).'),
};

/** What a connector's open function receives: its validated config plus the resolved secret. */
export type WithSecret<T> = T & { clientSecret: string };

/** Reads a claim by dotted path (`picture.data.url`); undefined when any step is missing. */
export function claimAt(source: unknown, path: string): unknown {
  let value = source;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export function stringClaim(source: unknown, path: string | undefined): string | undefined {
  if (!path) return undefined;
  const value = claimAt(source, path);
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

export function stringListClaim(source: unknown, path: string | undefined): string[] {
  const value = path ? claimAt(source, path) : undefined;
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
