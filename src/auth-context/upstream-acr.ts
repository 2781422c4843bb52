import type { UpstreamConfig } from '../config/schema.ts';

/** The acr values an upstream may assert: its `acrValues` (OIDC kinds only; OAuth2 profiles carry no verified acr). */
export function acrValuesOfUpstream(upstream: UpstreamConfig): readonly string[] {
  return 'acrValues' in upstream ? upstream.acrValues : [];
}

/** Every acr value some upstream asserts: oidc-provider's `acrValues`, advertised as acr_values_supported. */
export function supportedAcrValues(upstreams: readonly UpstreamConfig[]): string[] {
  return [...new Set(upstreams.flatMap(acrValuesOfUpstream))];
}

/**
 * Per client, the acrValues of each upstream it may use (its `upstreams`, default all).
 * The client's list is looked up at each request: apps managed at runtime change it.
 */
export function acrValuesByClient(upstreams: readonly UpstreamConfig[], allowedUpstreamsOf: (clientId: string) => readonly string[] | undefined) {
  return (clientId: string): (readonly string[])[] => {
    const allowed = allowedUpstreamsOf(clientId);
    return upstreams.filter((u) => !allowed || allowed.includes(u.id)).map(acrValuesOfUpstream);
  };
}
