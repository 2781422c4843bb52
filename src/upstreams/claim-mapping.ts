import { UpstreamError, type UpstreamConnector } from './connector.ts';

/**
 * Per-upstream adjustments between the connector's normalized identity and what Doorman
 * stores and releases as claims: a prefix on groups, so `admins` from two upstreams stay
 * two different groups; and a refusal of a profile holding NUL or an unpaired UTF-16
 * surrogate (a JSON escape such as "\ud800"), which PostgreSQL cannot store: jsonb refuses
 * both, so the login would otherwise fail with a 500 when the identity is written.
 */
export function withClaimMapping(connector: UpstreamConnector, mapping: { groupsPrefix: string }): UpstreamConnector {
  return {
    ...connector,
    async finishLogin(input) {
      const { identity, tokens } = await connector.finishLogin(input);
      if (holdsUnstorable(identity)) {
        throw new UpstreamError(connector.id, 'invalid_response', 'the profile holds NUL characters or unpaired surrogates');
      }
      return { identity: mapping.groupsPrefix ? { ...identity, groups: identity.groups.map((g) => `${mapping.groupsPrefix}${g}`) } : identity, tokens };
    },
  };
}

const UNSTORABLE = /\0|\p{Cs}/u;

function holdsUnstorable(value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => UNSTORABLE.test(k) || holdsUnstorable(v));
}
