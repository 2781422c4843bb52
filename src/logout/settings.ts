import { z } from 'zod';

/** The `backchannelLogout` config key: how logout tokens are delivered to apps (README "Back-channel logout"). */
export const backchannelLogoutSettingsSchema = z.strictObject({
  timeoutMs: z.number().int().min(100).max(60_000).default(5000)
    .describe('Time one delivery attempt may take (connect, send, answer); an app that takes longer counts as failed and is tried again.'),
  maxAttempts: z.number().int().min(1).max(50).default(8)
    .describe('Attempts per logout token before Doorman gives up (and logs a warning naming the app).'),
  retryDelayMs: z.number().int().min(100).max(3_600_000).default(2000)
    .describe('Wait before the second attempt; each further wait doubles, up to 10 minutes.'),
}).prefault({}).describe('Delivery of OIDC Back-Channel Logout tokens to apps that registered a backchannelLogoutUri: in the background, from a queue in the database, with retries.');

export type BackchannelLogoutSettings = z.infer<typeof backchannelLogoutSettingsSchema>;
