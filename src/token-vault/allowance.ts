import type { Configuration } from 'oidc-provider';
import { z } from 'zod';

/**
 * Which upstream tokens a client may get by token exchange: oidc-provider client metadata
 * (`upstream_tokens`), so a client kept anywhere (config today) carries its own allowance.
 */
export const UPSTREAM_TOKENS_METADATA = 'upstream_tokens';
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

export const upstreamTokenAllowanceSchema = z.array(z.strictObject({
  upstream: z.string().min(1),
  scopes: z.array(z.string().min(1)).min(1),
}));
export type UpstreamTokenAllowance = z.infer<typeof upstreamTokenAllowanceSchema>;

/** The metadata oidc-provider accepts for it, checked like the config's (src/config/schema.ts). */
export const upstreamTokensExtraMetadata: NonNullable<Configuration['extraClientMetadata']> = {
  properties: [UPSTREAM_TOKENS_METADATA],
  validator(_ctx, _key, value) {
    if (value !== undefined && !upstreamTokenAllowanceSchema.safeParse(value).success) {
      throw new TypeError(`invalid ${UPSTREAM_TOKENS_METADATA}: a list of { upstream, scopes[] }`);
    }
  },
};

export function allowanceOf(client: object): UpstreamTokenAllowance {
  const parsed = upstreamTokenAllowanceSchema.safeParse((client as Record<string, unknown>)[UPSTREAM_TOKENS_METADATA]);
  return parsed.success ? parsed.data : [];
}
