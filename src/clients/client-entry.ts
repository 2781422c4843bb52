import { clientSchema, type ClientConfig } from '../config/schema.ts';
import type { ClientSettings } from '../config/load.ts';

/**
 * One app (OIDC client) as Doorman's own policies see it, wherever it is kept: the config
 * file (read-only at runtime) or the database (managed through the console, the admin
 * API and the CLI). Every policy that reads a client setting (PKCE, consent, upstreams,
 * sign-up, introspection, links back to the app) reads it from here, through the registry.
 */
export type ClientEntry = Omit<ClientConfig, 'clientSecretEnv'> & {
  /** Authenticates with a secret (else a public client: PKCE alone). */
  confidential: boolean;
  source: 'config' | 'database';
};

/**
 * Protocol settings that only the config file sets today (back-channel logout, PAR, DPoP,
 * acr, per-app claims): a database client has the config file's defaults for them. Its
 * `metadata` column can carry them once the console offers them.
 */
export type RuntimeClientProtocolSettings = Pick<ClientEntry, 'backchannelLogoutSessionRequired' | 'requirePushedAuthorizationRequests'
  | 'dpopBoundAccessTokens' | 'defaultAcrValues' | 'staticClaims' | 'subjectType' | 'upstreamTokens'>;

/** The config file's own defaults (clientSchema), so the two cannot drift apart. */
const protocolDefaults = clientSchema.pick({
  backchannelLogoutSessionRequired: true, requirePushedAuthorizationRequests: true, dpopBoundAccessTokens: true,
  defaultAcrValues: true, staticClaims: true, subjectType: true, upstreamTokens: true,
});

export function runtimeClientProtocolDefaults(): RuntimeClientProtocolSettings {
  return protocolDefaults.parse({});
}

/** A database client: its entry plus what only the database holds. */
export interface DatabaseClient extends ClientEntry {
  source: 'database';
  name: string;
  /** `sha256:<base64url>` of the secret; null for a public client. */
  secretHash: string | null;
  /** Further oidc-provider client metadata (snake_case), beside the typed settings. */
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export function configClientEntry(c: ClientSettings): ClientEntry {
  const { clientSecretEnv, clientSecret: _secret, ...rest } = c;
  return { ...rest, confidential: clientSecretEnv !== undefined, source: 'config' };
}
