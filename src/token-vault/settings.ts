import { z } from 'zod';
import { envVarName } from '../upstreams/settings.ts';

/** The keys that encrypt stored upstream tokens (./cipher.ts). */
export const tokenVaultSettingsSchema = z.strictObject({
  keys: z.array(z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64')
      .describe('Name of the key, stored beside every row it encrypts. Never reuse an id for another key.'),
    secretEnv: envVarName.describe('Environment variable holding the key: 32 random bytes in base64 (`openssl rand -base64 32`).'),
    retired: z.boolean().default(false).describe('Only decrypts rows written with it (which are re-encrypted with the current key when next used, or by `doorman token-vault rekey`).'),
  })).default([{ id: 'default', secretEnv: 'DOORMAN_TOKEN_VAULT_KEY', retired: false }])
    .describe('AES-256-GCM keys for stored upstream tokens: exactly one not retired (it encrypts), the retired ones still decrypt. Read only when an upstream has storeTokens.'),
}).prefault({}).describe('Encryption of the upstream tokens kept for upstreams with storeTokens (README "Upstream tokens for apps").');
