import { z } from 'zod';
import { UpstreamError, type JsonObject, type UpstreamConnector, type UpstreamIdentity } from './connector.ts';
import { getJson, startDeadline, type UpstreamCall } from './http.ts';
import { createCodeFlow } from './oauth2-code.ts';
import { httpUrl, upstreamBaseShape, type WithSecret } from './settings.ts';

/**
 * GitHub and GitHub Enterprise Server: OAuth2 (not OIDC) plus the REST API.
 * https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
 */
export const githubSettingsSchema = z.strictObject({
  ...upstreamBaseShape,
  type: z.literal('github').describe('GitHub or GitHub Enterprise Server (OAuth app).'),
  displayName: z.string().default('GitHub').describe('Button label on the login page.'),
  baseUrl: httpUrl.default('https://github.com').describe('Where /login/oauth/authorize and /login/oauth/access_token live: https://github.com, or your GitHub Enterprise Server.'),
  apiUrl: httpUrl.optional().describe('REST API base. Default https://api.github.com for github.com, else <baseUrl>/api/v3 (Enterprise Server).'),
  allowedOrganizations: z.array(z.string().regex(/^[\w.-]+(:[\w.-]+)?$/, '"org" or "org:team-slug"')).default([])
    .describe('Only members of one of these organizations (`org`) or teams (`org:team-slug`) may sign in. Empty: anyone with a GitHub account.'),
  loadGroups: z.boolean().default(false).describe('Put organization and team memberships (`org`, `org:team-slug`) in the groups claim even without allowedOrganizations.'),
});
type GithubSettings = WithSecret<z.infer<typeof githubSettingsSchema>>;

const userSchema = z.looseObject({
  id: z.number().int(), // the subject: logins can be renamed and then reused by someone else
  login: z.string(),
  name: z.string().nullable().optional(),
  email: z.string().nullable().optional(),
  avatar_url: z.string().optional(),
});
const emailsSchema = z.array(z.looseObject({ email: z.string(), primary: z.boolean(), verified: z.boolean() }));
const orgsSchema = z.array(z.looseObject({ login: z.string() }));
const teamsSchema = z.array(z.looseObject({ slug: z.string(), organization: z.looseObject({ login: z.string() }) }));

/** GitHub error codes at the token endpoint, mapped to RFC 6749's. */
const TOKEN_ERRORS: Record<string, string> = {
  bad_verification_code: 'invalid_grant',
  bad_refresh_token: 'invalid_grant',
  incorrect_client_credentials: 'invalid_client',
  redirect_uri_mismatch: 'invalid_request',
  unverified_user_email: 'access_denied',
};

export function openGithubConnector(settings: GithubSettings): UpstreamConnector {
  const base = settings.baseUrl.replace(/\/$/, '');
  const apiUrl = (settings.apiUrl ?? (new URL(base).host === 'github.com' ? 'https://api.github.com' : `${base}/api/v3`)).replace(/\/$/, '');
  const wantsGroups = settings.loadGroups || settings.allowedOrganizations.length > 0;
  const scope = ['read:user', 'user:email', ...(wantsGroups ? ['read:org'] : [])].join(' ');
  const flow = createCodeFlow({
    connectorId: settings.id,
    authorizationEndpoint: `${base}/login/oauth/authorize`,
    tokenEndpoint: `${base}/login/oauth/access_token`,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    tokenAuth: 'client_secret_post',
    pkce: true,
    timeoutMs: settings.timeoutMs,
    fixTokenResponse: reportErrorsAsErrors,
    scopeSeparator: ',',
  });

  const api = <T extends z.ZodType>(call: UpstreamCall, path: string, schema: T, token: string) => getJson(call, new URL(`${apiUrl}${path}`), schema, {
    authorization: `Bearer ${token}`,
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    'user-agent': 'Doorman', // GitHub refuses API calls without a User-Agent
  });

  return {
    id: settings.id,
    type: 'github',
    displayName: settings.displayName,
    startLogin: ({ redirectUri, state }) => flow.start({ redirectUri, state, scope }),

    async finishLogin(input) {
      const call = startDeadline(settings.id, settings.timeoutMs);
      const tokens = await flow.finish({ ...input, scope }, call.signal);
      const token = tokens.accessToken;
      const user = await api(call, '/user', userSchema, token);
      // /user shows only the public email, and never whether it is verified: ask /user/emails.
      const emails = await api(call, '/user/emails', emailsSchema, token);
      const primary = emails.find((e) => e.primary);
      const groups = wantsGroups ? await loadGroups(call, token) : [];
      if (settings.allowedOrganizations.length && !settings.allowedOrganizations.some((g) => groups.includes(g))) {
        throw new UpstreamError(settings.id, 'org_not_allowed', `${user.login} is in none of ${settings.allowedOrganizations.join(', ')}`);
      }
      const identity: UpstreamIdentity = {
        connectorId: settings.id,
        subject: String(user.id),
        emailVerified: primary?.verified ?? false,
        username: user.login,
        groups,
        raw: user as JsonObject,
      };
      const email = primary?.email ?? user.email ?? undefined;
      if (email) identity.email = email; // as sent; compared only in canonical form (accounts/email.ts)
      if (!primary && email) identity.emailVerified = false;
      if (user.name) identity.name = user.name;
      if (user.avatar_url) identity.picture = user.avatar_url;
      return { identity, tokens };
    },

    // GitHub App user tokens expire and rotate their refresh token at each use; OAuth app tokens never expire.
    // https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
    refreshTokens: (refreshToken) => flow.refresh(refreshToken),
  };

  async function loadGroups(call: UpstreamCall, token: string): Promise<string[]> {
    // One page of 100 each: more than 100 organizations or teams per person is not supported yet.
    const [orgs, teams] = await Promise.all([
      api(call, '/user/orgs?per_page=100', orgsSchema, token),
      api(call, '/user/teams?per_page=100', teamsSchema, token),
    ]);
    return [...orgs.map((o) => o.login), ...teams.map((t) => `${t.organization.login}:${t.slug}`)];
  }
}

/**
 * GitHub answers token errors with HTTP 200 and an `error` field; give openid-client the
 * 400 that RFC 6749 §5.2 says it should be, so the error is reported as one.
 */
async function reportErrorsAsErrors(res: Response): Promise<Response> {
  if (res.status !== 200) return res;
  const body = await res.clone().json().catch(() => undefined) as { error?: string; error_description?: string } | undefined;
  if (!body?.error) return res;
  return new Response(JSON.stringify({ error: TOKEN_ERRORS[body.error] ?? 'invalid_request', error_description: `${body.error}: ${body.error_description ?? ''}` }), {
    status: 400, headers: { 'content-type': 'application/json' },
  });
}
