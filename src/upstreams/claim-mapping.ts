import { UpstreamError, type UpstreamConnector } from './connector.ts';

/**
 * Per-upstream adjustments between the connector's normalized identity and what Doorman
 * stores and releases as claims: a prefix on groups, so `admins` from two upstreams stay
 * two different groups; and a refusal of a profile holding NUL, which PostgreSQL cannot
 * store (the login would otherwise fail with a 500 when the identity is written).
 */
export function withClaimMapping(connector: UpstreamConnector, mapping: { groupsPrefix: string }): UpstreamConnector {
  return {
    ...connector,
    async finishLogin(input) {
      const identity = await connector.finishLogin(input);
      if (holdsNul(identity)) {
        throw new UpstreamError(connector.id, 'invalid_response', 'the profile holds NUL characters');
      }
      return mapping.groupsPrefix ? { ...identity, groups: identity.groups.map((g) => `${mapping.groupsPrefix}${g}`) } : identity;
    },
  };
}

function holdsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => k.includes('\0') || holdsNul(v));
}
