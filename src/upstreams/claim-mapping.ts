import type { UpstreamConnector } from './connector.ts';

/**
 * Per-upstream adjustments between the connector's normalized identity and what Doorman
 * stores and releases as claims. Today: a prefix on groups, so `admins` from two
 * upstreams stay two different groups.
 */
export function withClaimMapping(connector: UpstreamConnector, mapping: { groupsPrefix: string }): UpstreamConnector {
  if (!mapping.groupsPrefix) return connector;
  return {
    ...connector,
    async finishLogin(input) {
      const identity = await connector.finishLogin(input);
      return { ...identity, groups: identity.groups.map((g) => `${mapping.groupsPrefix}${g}`) };
    },
  };
}
