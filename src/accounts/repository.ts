import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../db/client.ts';
import type { JsonObject, UpstreamIdentity } from '../upstreams/connector.ts';

type Tx = Prisma.TransactionClient;

export function findIdentity(tx: Tx, provider: string, subject: string) {
  return tx.identity.findUnique({
    where: { provider_subject: { provider, subject } },
    select: { id: true, accountId: true, account: { select: { disabledAt: true } } },
  });
}

function profileOf(identity: UpstreamIdentity): JsonObject {
  const profile: JsonObject = { groups: identity.groups, raw: identity.raw };
  if (identity.name) profile.name = identity.name;
  if (identity.username) profile.username = identity.username;
  if (identity.picture) profile.picture = identity.picture;
  return profile;
}

/** Creates an account owning exactly this identity; returns the account id (the new `sub`). */
export async function createAccountWithIdentity(tx: Tx, identity: UpstreamIdentity, now: Date): Promise<string> {
  const account = await tx.account.create({
    data: {
      identities: {
        create: {
          provider: identity.connectorId,
          subject: identity.subject,
          email: identity.email ?? null,
          emailVerified: identity.emailVerified,
          profile: profileOf(identity),
          lastLoginAt: now,
        },
      },
    },
    select: { id: true },
  });
  return account.id;
}

/** Refreshes the identity's copy of the upstream profile at each login. */
export async function updateIdentityAtLogin(tx: Tx, identityId: string, identity: UpstreamIdentity, now: Date): Promise<void> {
  await tx.identity.update({
    where: { id: identityId },
    data: { email: identity.email ?? null, emailVerified: identity.emailVerified, profile: profileOf(identity), lastLoginAt: now },
  });
}

export interface AccountProfile {
  accountId: string;
  email: string | null;
  emailVerified: boolean;
  name?: string;
  picture?: string;
  username?: string;
  /** Union of the groups of all its identities (each already carrying its upstream's prefix). */
  groups: string[];
}

/**
 * The profile an account shows to clients: that of its most recently used identity, and
 * the groups of all its identities. Undefined when the account does not exist or is disabled.
 */
export async function findAccountProfile(db: Db, accountId: string): Promise<AccountProfile | undefined> {
  const account = await db.account.findUnique({
    where: { id: accountId },
    select: {
      disabledAt: true,
      identities: { orderBy: [{ lastLoginAt: { sort: 'desc', nulls: 'last' } }], select: { email: true, emailVerified: true, profile: true } },
    },
  });
  if (!account || account.disabledAt) return undefined;
  const identity = account.identities[0];
  const profile = (identity?.profile ?? {}) as { name?: string; picture?: string; username?: string };
  const groups = new Set(account.identities.flatMap((i) => ((i.profile as { groups?: string[] }).groups ?? [])));
  return {
    accountId,
    groups: [...groups].sort(),
    email: identity?.email ?? null,
    emailVerified: identity?.emailVerified ?? false,
    ...(profile.name ? { name: profile.name } : {}),
    ...(profile.picture ? { picture: profile.picture } : {}),
    ...(profile.username ? { username: profile.username } : {}),
  };
}
