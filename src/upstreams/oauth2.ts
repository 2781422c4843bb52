import { z } from 'zod';
import { UpstreamError, type JsonObject, type UpstreamConnector, type UpstreamIdentity } from './connector.ts';
import { getJson, startDeadline } from './http.ts';
import { createCodeFlow } from './oauth2-code.ts';
import { claimAt, httpUrl, stringClaim, stringListClaim, upstreamBaseShape, type WithSecret } from './settings.ts';

/**
 * Any OAuth2 provider without OIDC: explicit endpoints, then the userinfo JSON mapped to
 * an identity by dotted paths.
 */
export const oauth2SettingsSchema = z.strictObject({
  ...upstreamBaseShape,
  type: z.literal('oauth2').describe('A plain OAuth2 provider with a userinfo (profile) endpoint.'),
  displayName: z.string().min(1).describe('Button label on the login page.'),
  authorizationUrl: httpUrl.describe('Authorization endpoint.'),
  tokenUrl: httpUrl.describe('Token endpoint.'),
  userinfoUrl: httpUrl.describe('Endpoint returning the signed-in user as JSON (called with the access token as Bearer).'),
  scopes: z.array(z.string()).default([]).describe('Scopes requested.'),
  scopeSeparator: z.string().default(' ').describe('How scopes are joined (some providers want a comma).'),
  pkce: z.boolean().default(true).describe('Send a PKCE challenge (S256). Turn off only for providers that reject it.'),
  tokenAuth: z.enum(['client_secret_post', 'client_secret_basic']).default('client_secret_post').describe('How Doorman authenticates at the token endpoint.'),
  claims: z.strictObject({
    subject: z.string().default('id').describe('Path of the stable user id (string or number).'),
    email: z.string().default('email'),
    emailVerified: z.string().optional().describe('Path of a boolean saying the email is verified. Without it, emails are unverified.'),
    name: z.string().default('name'),
    username: z.string().default('login'),
    picture: z.string().default('avatar_url'),
    groups: z.string().optional().describe('Path of a list of group names.'),
  }).prefault({}).describe('Where each identity field is in the userinfo JSON (dotted paths, e.g. picture.data.url).'),
});
type OAuth2Settings = WithSecret<z.infer<typeof oauth2SettingsSchema>>;

export function openOAuth2Connector(settings: OAuth2Settings): UpstreamConnector {
  const flow = createCodeFlow({
    connectorId: settings.id,
    authorizationEndpoint: settings.authorizationUrl,
    tokenEndpoint: settings.tokenUrl,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    tokenAuth: settings.tokenAuth,
    pkce: settings.pkce,
    timeoutMs: settings.timeoutMs,
    fixTokenResponse: normalizeTokenResponse,
    scopeSeparator: settings.scopeSeparator,
  });
  const names = settings.claims;
  const scope = settings.scopes.join(settings.scopeSeparator);
  const granted = settings.scopes.join(' '); // what RFC 6749 §5.1 says was granted when the answer names no scope

  return {
    id: settings.id,
    type: 'oauth2',
    displayName: settings.displayName,
    startLogin: ({ redirectUri, state }) => flow.start({ redirectUri, state, scope }),

    async finishLogin(input) {
      const call = startDeadline(settings.id, settings.timeoutMs);
      const tokens = await flow.finish({ ...input, scope: granted }, call.signal);
      const profile = await getJson(call, new URL(settings.userinfoUrl), z.record(z.string(), z.unknown()), { authorization: `Bearer ${tokens.accessToken}` });
      const subject = stringClaim(profile, names.subject);
      if (!subject) throw new UpstreamError(settings.id, 'invalid_response', `userinfo has no ${names.subject}`);
      const email = stringClaim(profile, names.email); // as sent; compared only in canonical form (accounts/email.ts)
      const identity: UpstreamIdentity = {
        connectorId: settings.id,
        subject,
        emailVerified: email !== undefined && names.emailVerified !== undefined && claimAt(profile, names.emailVerified) === true,
        groups: stringListClaim(profile, names.groups),
        raw: profile as JsonObject,
      };
      const name = stringClaim(profile, names.name);
      const username = stringClaim(profile, names.username);
      const picture = stringClaim(profile, names.picture);
      if (email) identity.email = email;
      if (name) identity.name = name;
      if (username) identity.username = username;
      if (picture) identity.picture = picture;
      return { identity, tokens };
    },
    refreshTokens: (refreshToken) => flow.refresh(refreshToken),
  };
}

/**
 * Some providers answer the token request form-encoded even when JSON is asked for, leave
 * out token_type, or answer errors with HTTP 200; normalize to what RFC 6749 §5 says.
 */
async function normalizeTokenResponse(res: Response): Promise<Response> {
  const type = res.headers.get('content-type') ?? '';
  const text = await res.clone().text();
  let body: unknown;
  if (type.includes('application/x-www-form-urlencoded') || type.includes('text/plain')) {
    body = Object.fromEntries(new URLSearchParams(text));
  } else {
    try {
      body = JSON.parse(text);
    } catch {
      return res;
    }
  }
  if (!body || typeof body !== 'object') return res;
  const fields = body as Record<string, unknown>;
  const json = (status: number, value: unknown) => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
  if (typeof fields.error === 'string') return json(400, fields);
  if (!res.ok) return res;
  return json(200, { token_type: 'bearer', ...fields });
}
