import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { JsonObject, UpstreamConnector, UpstreamIdentity } from './connector.ts';
import { getJson, startDeadline } from './http.ts';
import { createCodeFlow } from './oauth2-code.ts';
import { httpUrl, upstreamBaseShape, type WithSecret } from './settings.ts';

/**
 * Facebook Login (OAuth2) and the Graph API.
 * https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow
 */
export const facebookSettingsSchema = z.strictObject({
  ...upstreamBaseShape,
  type: z.literal('facebook').describe('Facebook Login.'),
  displayName: z.string().default('Facebook').describe('Button label on the login page.'),
  graphVersion: z.string().regex(/^v\d+\.\d+$/, 'like v23.0').default('v23.0').describe('Graph API version used for the login dialog, the token exchange and /me.'),
  dialogUrl: httpUrl.default('https://www.facebook.com').describe('Host of the login dialog (<dialogUrl>/<version>/dialog/oauth).'),
  graphUrl: httpUrl.default('https://graph.facebook.com').describe('Graph API host (token exchange and /me).'),
  scopes: z.array(z.string()).default(['public_profile', 'email']).describe('Permissions requested. A person may decline email; they can still sign in, without an email.'),
  trustEmail: z.boolean().default(false).describe('Facebook never says whether an email is verified, so it counts as unverified. Set true only if you accept Facebook\'s own confirmation of emails.'),
});
type FacebookSettings = WithSecret<z.infer<typeof facebookSettingsSchema>>;

const meSchema = z.looseObject({
  id: z.string().min(1), // app-scoped user id: stable for this app
  name: z.string().optional(),
  email: z.string().optional(), // absent when the person declined it, or has only a phone number
  picture: z.looseObject({ data: z.looseObject({ url: z.string().optional(), is_silhouette: z.boolean().optional() }) }).optional(),
});

export function openFacebookConnector(settings: FacebookSettings): UpstreamConnector {
  const graph = `${settings.graphUrl.replace(/\/$/, '')}/${settings.graphVersion}`;
  const flow = createCodeFlow({
    connectorId: settings.id,
    authorizationEndpoint: `${settings.dialogUrl.replace(/\/$/, '')}/${settings.graphVersion}/dialog/oauth`,
    tokenEndpoint: `${graph}/oauth/access_token`,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    tokenAuth: 'client_secret_post',
    pkce: true,
    timeoutMs: settings.timeoutMs,
    fixTokenResponse: reportGraphErrorsAsOAuth,
  });
  const granted = settings.scopes.join(' ');

  return {
    id: settings.id,
    type: 'facebook',
    displayName: settings.displayName,
    startLogin: ({ redirectUri, state }) => flow.start({ redirectUri, state, scope: settings.scopes.join(',') }),

    async finishLogin(input) {
      const call = startDeadline(settings.id, settings.timeoutMs);
      const tokens = await flow.finish({ ...input, scope: granted }, call.signal);
      const token = tokens.accessToken;
      const url = new URL(`${graph}/me`);
      url.searchParams.set('fields', 'id,name,email,picture');
      // appsecret_proof: Graph calls prove they come from the app's server, not a stolen token's holder.
      // https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof
      url.searchParams.set('appsecret_proof', createHmac('sha256', settings.clientSecret).update(token).digest('hex'));
      const me = await getJson(call, url, meSchema, { authorization: `Bearer ${token}` });
      const identity: UpstreamIdentity = {
        connectorId: settings.id,
        subject: me.id,
        emailVerified: me.email !== undefined && settings.trustEmail,
        groups: [],
        raw: me as JsonObject,
      };
      if (me.email) identity.email = me.email; // as sent; compared only in canonical form (accounts/email.ts)
      if (me.name) identity.name = me.name;
      if (me.picture?.data.url && !me.picture.data.is_silhouette) identity.picture = me.picture.data.url;
      return { identity, tokens };
    },
    // Facebook issues long-lived access tokens and no refresh tokens; this runs only if it ever sends one.
    refreshTokens: (refreshToken) => flow.refresh(refreshToken),
  };
}

/** Graph reports errors as {"error": {"message", "type", "code"}}; RFC 6749 wants a string. */
async function reportGraphErrorsAsOAuth(res: Response): Promise<Response> {
  if (res.ok) return res;
  const body = await res.clone().json().catch(() => undefined) as { error?: { message?: string; code?: number } | string } | undefined;
  if (!body || typeof body.error !== 'object') return res;
  // Code 100 with an OAuthException is a bad, used or expired code; anything else is our app's setup.
  const error = body.error.code === 100 ? 'invalid_grant' : 'invalid_client';
  return new Response(JSON.stringify({ error, error_description: body.error.message ?? '' }), { status: 400, headers: { 'content-type': 'application/json' } });
}
