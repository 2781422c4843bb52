import type { ClientMetadata, Configuration, FindAccount } from 'oidc-provider';
import type { ClientSettings } from '../config/load.ts';
import { groupsFilterSchema, staticClaimsSchema, type GroupsFilter } from './settings.ts';

/**
 * What one app sees of a person: its groups filter and static claims, applied to the claims
 * every app would see. Carried as client metadata (names below), so a client defined
 * anywhere oidc-provider finds clients has them.
 */

const GROUPS_FILTER = 'doorman_groups_filter';
const STATIC_CLAIMS = 'doorman_static_claims';

/** The claim settings of one configured client as oidc-provider client metadata. */
export function clientClaimsMetadata(c: ClientSettings): Partial<ClientMetadata> {
  return {
    ...(c.groupsFilter ? { [GROUPS_FILTER]: c.groupsFilter } : {}),
    ...(Object.keys(c.staticClaims).length ? { [STATIC_CLAIMS]: c.staticClaims } : {}),
    subject_type: c.subjectType,
  };
}

/** oidc-provider's extraClientMetadata for the two properties; a malformed value makes the client invalid. */
export const clientClaimsExtraMetadata: NonNullable<Configuration['extraClientMetadata']> = {
  properties: [GROUPS_FILTER, STATIC_CLAIMS],
  validator(_ctx, key, value) {
    if (value === undefined) return;
    // The same rules as the config's, for clients defined elsewhere: no standard claim names.
    const ok = (key === GROUPS_FILTER ? groupsFilterSchema : staticClaimsSchema).safeParse(value).success;
    if (!ok) throw new TypeError(`invalid ${key}`);
  },
};

/** Names of every static claim of any client: oidc-provider releases only claims it was told of (configuration.ts `claims`). */
export function staticClaimNames(clients: readonly ClientSettings[]): string[] {
  return [...new Set(clients.flatMap((c) => Object.keys(c.staticClaims)))];
}

export function isVisibleGroup(filter: GroupsFilter | undefined, group: string): boolean {
  return !filter || filter.names.includes(group) || filter.prefixes.some((p) => group.startsWith(p));
}

/**
 * Wraps findAccount so the claims of an account are those the requesting client may see.
 * The client is the one the token or request belongs to (oidc-provider loads it into
 * ctx.oidc.client at every endpoint that asks for claims).
 */
export function withClientClaims(findAccount: FindAccount): FindAccount {
  return async (ctx, sub, token) => {
    const account = await findAccount(ctx, sub, token);
    const client = ctx.oidc.client as unknown as Record<string, unknown> | undefined;
    if (!account || !client) return account;
    const filter = client[GROUPS_FILTER] as GroupsFilter | undefined;
    const statics = (client[STATIC_CLAIMS] ?? {}) as Record<string, unknown>;
    return {
      ...account,
      async claims(...args) {
        const claims = await account.claims(...args);
        const groups = Array.isArray(claims.groups) ? (claims.groups as string[]).filter((g) => isVisibleGroup(filter, g)) : claims.groups;
        // Static claims first: the account's own claims (sub, email, ...) always win.
        return { ...statics, ...claims, groups };
      },
    };
  };
}
