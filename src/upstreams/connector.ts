/**
 * The one seam between the broker and an upstream identity provider (after Dex's
 * connector.CallbackConnector). The login page, account mapping and audit log see only
 * this interface and `UpstreamIdentity`; everything provider-specific lives behind it.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface UpstreamConnector {
  /** Config id; also the path segment of the callback URL and the Identity's `provider`. */
  readonly id: string;
  readonly type: string;
  /** Button label on the login page. */
  readonly displayName: string;
  /**
   * Where to send the browser. `state` is the broker's, already bound to the browser and
   * the interaction. `transaction` (nonce, PKCE verifier, ...) is stored server-side by
   * the broker and handed back to `finishLogin`; connectors keep no state of their own.
   * `loginHint` is the app's `login_hint` (OIDC Core §3.1.2.1), passed on where the
   * upstream understands it; connectors that have no such parameter ignore it.
   * `acrValues` are the app's required authentication context classes that this upstream
   * can satisfy (its config `acrValues`), asked of it as `acr_values`; only OIDC
   * connectors are ever given any.
   * Throws UpstreamError('unavailable' | 'timeout') when the upstream cannot be reached.
   */
  startLogin(input: { redirectUri: URL; state: string; loginHint?: string | undefined; acrValues?: readonly string[] | undefined }): Promise<{ url: URL; transaction: JsonObject }>;
  /**
   * Completes the login from the callback URL (state already checked by the broker):
   * exchanges the code, validates what the upstream returned, and normalizes it.
   * Settles within the upstream's `timeoutMs`: one deadline for all its calls (http.ts).
   * Throws UpstreamError for every failure ('timeout' when the deadline passed, also
   * mid-body; 'unavailable' for any 5xx); never returns a partial identity.
   */
  finishLogin(input: { callbackUrl: URL; redirectUri: URL; transaction: JsonObject }): Promise<UpstreamLogin>;
  /**
   * Redeems a refresh token the upstream issued at `finishLogin` for a new token set
   * (RFC 6749 §6), within the upstream's `timeoutMs`. When the upstream rotates refresh
   * tokens the result carries the new one; without one, the old one stays good. Its
   * `scope` is empty when the upstream named none (then unchanged, RFC 6749 §6).
   * Throws UpstreamError('expired') when the upstream refuses the refresh token (grant
   * revoked, token rotated away or expired), 'timeout' / 'unavailable' when it cannot answer.
   */
  refreshTokens(refreshToken: string): Promise<UpstreamTokens>;
  /**
   * Where to send the browser to end the person's session at the upstream after Doorman's
   * own sign-out (src/logout/upstream-sign-out.ts), or undefined when this upstream is not
   * configured for it or has no such endpoint. Only OIDC upstreams have it. Throws
   * UpstreamError('unavailable' | 'timeout') when the upstream does not answer.
   */
  endSessionUrl?(input: { postLogoutRedirectUri: URL; state: string }): Promise<URL | undefined>;
  /**
   * Revokes a token this upstream issued (RFC 7009 at its discovered revocation_endpoint),
   * within a short deadline, after the person signed out with `signOutUpstream`. Resolves
   * when the upstream says the token is gone, or never knew it (already revoked). Only
   * Google upstreams have it. Throws UpstreamError when the upstream does not answer so.
   */
  revokeToken?(token: string): Promise<void>;
}

/** What a completed upstream login yields: who the person is, and the upstream's tokens. */
export interface UpstreamLogin {
  identity: UpstreamIdentity;
  /** Kept only for upstreams with `storeTokens` (src/token-vault), encrypted; never logged. */
  tokens: UpstreamTokens;
}

/** An upstream's token response, normalized (RFC 6749 §5.1). */
export interface UpstreamTokens {
  accessToken: string;
  refreshToken?: string | undefined;
  /** From `expires_in`; undefined when the upstream gave none (GitHub OAuth app tokens never expire). */
  expiresAt?: Date | undefined;
  /** Scopes granted, space-separated; at login the requested ones when the upstream did not say (RFC 6749 §5.1). */
  scope: string;
}

/** An upstream user, normalized. */
export interface UpstreamIdentity {
  connectorId: string;
  /** The upstream's stable, never-reassigned user id (OIDC `sub`); never the email. */
  subject: string;
  /** Exactly as the upstream sent it: never case-mapped here (accounts/email.ts owns comparison). */
  email?: string;
  /** True only when the upstream says so explicitly; linking safety depends on it. */
  emailVerified: boolean;
  name?: string;
  username?: string;
  picture?: string;
  groups: string[];
  raw: JsonObject;
  /**
   * How the person authenticated upstream (`amr`, RFC 8176; `acr`, OIDC Core §2), taken
   * from a signature-verified ID token only, never from userinfo or an OAuth2 profile,
   * which the upstream does not sign. `acr` only when it is one of the upstream's
   * configured `acrValues`. Absent when the connector has no verified ID token.
   */
  authentication?: UpstreamAuthentication;
}

export interface UpstreamAuthentication { amr: string[]; acr?: string }

/** Every way an upstream login can fail; each has its own page (http/error-handler.ts). */
export const UPSTREAM_ERROR_CODES = [
  'denied', // the person declined at the upstream (access_denied)
  'invalid_response', // the upstream answered with something that fails validation
  'expired', // the code or the login took too long, or was already used (invalid_grant)
  'timeout',
  'unavailable', // network failure or 5xx
  'misconfigured', // the upstream rejected our client (invalid_client, redirect_uri_mismatch, ...)
  'domain_not_allowed', // Google Workspace hosted-domain restriction
  'org_not_allowed', // GitHub organization or team restriction
] as const;
export type UpstreamErrorCode = (typeof UPSTREAM_ERROR_CODES)[number];

export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  readonly connectorId: string;
  constructor(connectorId: string, code: UpstreamErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
    this.connectorId = connectorId;
    this.code = code;
  }
}
