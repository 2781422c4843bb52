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

/** For oidc-provider's extraClientMetadata.validator: a message naming what is wrong, or undefined. */
export function allowanceProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const parsed = upstreamTokenAllowanceSchema.safeParse(value);
  return parsed.success ? undefined : `${UPSTREAM_TOKENS_METADATA} must be a list of { upstream, scopes[] }`;
}

export function allowanceOf(client: object): UpstreamTokenAllowance {
  const parsed = upstreamTokenAllowanceSchema.safeParse((client as Record<string, unknown>)[UPSTREAM_TOKENS_METADATA]);
  return parsed.success ? parsed.data : [];
}
