import { z } from 'zod';

/** One limit: at most `points` events per key within `durationSeconds`. */
function limit(points: number, durationSeconds: number, what: string) {
  return z.strictObject({
    points: z.number().int().min(1).default(points).describe('How many in one window.'),
    durationSeconds: z.number().int().min(1).max(86_400).default(durationSeconds).describe('Length of the window in seconds; a blocked key is refused until its window ends.'),
  }).prefault({}).describe(what);
}

/** The `rateLimits` config key (README "Rate limits"). */
export const rateLimitSettingsSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Turn the limits off only when a proxy in front of Doorman enforces its own.'),
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional()
    .describe('Keep the counters in this Redis instead of the database (env DOORMAN_REDIS_URL overrides; put a password there, not in the file). Default: the database, so every Doorman process shares them.'),
  clientAuthFailuresPerIp: limit(10, 600, 'Failed client authentications (wrong or unknown client secret) at the token, introspection and revocation endpoints from one IP address; then even a right secret gets 429 (RFC 6749 §2.3.1).'),
  clientAuthFailuresPerClient: limit(100, 600, 'Failed client authentications for one client_id from all addresses together. Anyone who knows a client_id can use this up and lock that app out for the window, so keep it well above the per-IP limit.'),
  loginStartsPerIp: limit(300, 60, 'Sign-ins started from one IP address: authorization requests (/auth) and choices of an upstream (including link proofs and links from the Account page). People behind one NAT share it.'),
  upstreamCallbacksPerIp: limit(150, 60, 'Upstream callbacks (/upstream/<id>/callback) from one IP address.'),
  adminRequestsPerToken: limit(300, 60, 'Admin API requests per bearer token.'),
  userCodeAttemptsPerIp: limit(20, 600, 'Device flow: codes entered on the /device page from one IP address, right or wrong (entering and confirming a code are two). Keeps guessing another person\'s code hopeless (RFC 8628 §5.1).'),
}).prefault({}).describe('Limits on failed client authentication, sign-in starts, device codes entered and admin API calls; over a limit the answer is 429 with Retry-After.');

export type RateLimitSettings = z.infer<typeof rateLimitSettingsSchema>;
export type RateLimitName = Exclude<keyof RateLimitSettings, 'enabled' | 'redisUrl'>;
