import { randomUUID } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client.ts';
import { poolOf, type Db } from '../db/client.ts';
import type { JsonObject, UpstreamIdentity } from '../upstreams/connector.ts';
import { canonicalEmail } from './email.ts';
import type { LinkCandidate } from './linking.ts';
import { composeProfile, verifiedEmails, type AccountProfile, type ProfileSource } from './profile.ts';

/**
 * Database access for accounts, identities and pending links; no rules live here. Prisma,
 * except the two statements of every login (signInKnownIdentity, findAccountProfile), which
 * run on the pg pool under it.
 */
type Tx = Prisma.TransactionClient;

/**
 * Serialises first sign-ins of one identity until the caller's transaction ends, on any
 * process: a second one waits, then finds the identity the first created. Without it, the
 * second (reading committed rows statement by statement) misses the identity, then sees the
 * new account holding its email and offers the person a link to their own account.
 */
export async function lockIdentity(tx: Tx, provider: string, subject: string): Promise<void> {
  // The two-key form: its key space is apart from the single-key locks (keys, migrations).
  // Two identities whose keys hash alike merely wait for each other.
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${IDENTITY_LOCK_CLASS}::int, hashtext(${provider} || ':' || ${subject}))`;
}
const IDENTITY_LOCK_CLASS = 0x1d3e;

export function findIdentity(tx: Tx, provider: string, subject: string) {
  return tx.identity.findUnique({
    where: { provider_subject: { provider, subject } },
    select: { id: true, accountId: true, account: { select: { disabledAt: true, retiredAt: true } } },
  });
}

/**
 * The common sign-in, in one statement: an identity Doorman knows signs in again. Refreshes
 * its profile and writes the audit row (`login`, or `login.refused` when its account is
 * disabled or retired). When no other identity of the account vouches for its primary
 * email (none yet, or the address changed upstream) and this one's address is verified,
 * that address becomes primary (audited as `account.email`). Undefined when the identity
 * is new, for the full decision path.
 */
export async function signInKnownIdentity(db: Db, identity: UpstreamIdentity, clientId: string | undefined, now: Date): Promise<{ accountId: string; blocked: boolean } | undefined> {
  const c = identityColumns(identity);
  const adoptable = c.emailVerified ? c.emailCanonical : null;
  // Every CTE sees the rows as they were before the statement, hence `i.id <> target.id`.
  // On the pg pool, not Prisma (runs at every login, see oidc/adapter.ts); times as UTC text.
  const { rows: [row] } = await poolOf(db).query<{ accountId: string; blocked: boolean }>({
    name: 'sign-in-known-identity',
    text: `
    WITH target AS (
      SELECT i.id, i."accountId", (a."disabledAt" IS NOT NULL OR a."retiredAt" IS NOT NULL) AS blocked
      FROM "Identity" i JOIN "Account" a ON a.id = i."accountId"
      WHERE i.provider = $1 AND i.subject = $2
    ), refreshed AS (
      UPDATE "Identity" SET email = $3, "emailCanonical" = $4, "emailVerified" = $5,
        profile = $6::jsonb, "lastLoginAt" = $7::timestamp
      WHERE id = (SELECT id FROM target WHERE NOT blocked)
    ), adopted AS (
      UPDATE "Account" a SET email = $8::text
      FROM "Account" old, target
      WHERE a.id = target."accountId" AND old.id = a.id AND NOT target.blocked
        AND $8::text IS NOT NULL AND old.email IS DISTINCT FROM $8::text
        AND NOT EXISTS (SELECT 1 FROM "Identity" v WHERE v."accountId" = a.id AND v.id <> target.id AND v."emailVerified" AND v."emailCanonical" = old.email)
      RETURNING a.id, old.email AS previous
    ), audited AS (
      INSERT INTO "AuditEvent" (id, type, "accountId", provider, subject, "clientId", detail, "createdAt")
      SELECT $9, CASE WHEN blocked THEN 'login.refused' ELSE 'login' END, "accountId", $1, $2, $10,
        CASE WHEN blocked THEN '{"reason":"account_disabled"}'::jsonb ELSE '{}'::jsonb END, $7::timestamp(3)
      FROM target
      UNION ALL
      SELECT $11, 'account.email', id, $1, $2, $10,
        jsonb_build_object('email', $8::text, 'previous', previous, 'how', 'adopted'), $7::timestamp(3)
      FROM adopted
    )
    SELECT "accountId", blocked FROM target`,
    values: [identity.connectorId, identity.subject, c.email, c.emailCanonical, c.emailVerified, JSON.stringify(c.profile), now.toISOString(), adoptable, randomUUID(), clientId ?? null, randomUUID()],
  });
  return row;
}

/**
 * Locks the account row for the rest of the transaction, so that changes to one account's
 * identities and primary email (two tabs, a person and an admin) are made one after the
 * other, each seeing what the one before left.
 */
export async function lockAccount(tx: Tx, accountId: string): Promise<void> {
  await tx.$queryRaw`SELECT 1 FROM "Account" WHERE id = ${accountId} FOR UPDATE`;
}

export function findAccountState(tx: Tx, accountId: string) {
  return tx.account.findUnique({ where: { id: accountId }, select: { id: true, disabledAt: true, retiredAt: true, admin: true } });
}

/** Live (not retired) accounts with an identity carrying this canonical email, and whether any such identity is verified. */
export async function findLinkCandidates(tx: Tx, canonical: string): Promise<LinkCandidate[]> {
  const rows = await tx.identity.findMany({
    where: { emailCanonical: canonical, account: { retiredAt: null } },
    select: { accountId: true, emailVerified: true },
  });
  const byAccount = new Map<string, boolean>();
  for (const r of rows) byAccount.set(r.accountId, (byAccount.get(r.accountId) ?? false) || r.emailVerified);
  return [...byAccount].map(([accountId, emailVerified]) => ({ accountId, emailVerified }));
}

function identityColumns(identity: UpstreamIdentity) {
  const profile: JsonObject = { groups: identity.groups, raw: identity.raw };
  if (identity.name) profile.name = identity.name;
  if (identity.username) profile.username = identity.username;
  if (identity.picture) profile.picture = identity.picture;
  const emailCanonical = identity.email ? canonicalEmail(identity.email) ?? null : null;
  return { email: identity.email ?? null, emailCanonical, emailVerified: identity.emailVerified, profile };
}

/** The identity's email if it may become an account's primary email: verified, and in canonical form. */
export function adoptableEmail(identity: UpstreamIdentity): string | undefined {
  const c = identityColumns(identity);
  return c.emailVerified && c.emailCanonical ? c.emailCanonical : undefined;
}

/** Creates an account owning exactly this identity (its verified email as primary); returns the account id (the new `sub`). */
export async function createAccountWithIdentity(tx: Tx, identity: UpstreamIdentity, now: Date): Promise<string> {
  const account = await tx.account.create({
    data: { email: adoptableEmail(identity) ?? null, identities: { create: { provider: identity.connectorId, subject: identity.subject, ...identityColumns(identity), lastLoginAt: now } } },
    select: { id: true },
  });
  return account.id;
}

export async function addIdentityToAccount(tx: Tx, accountId: string, identity: UpstreamIdentity, lastLoginAt: Date | null): Promise<string> {
  const row = await tx.identity.create({
    data: { accountId, provider: identity.connectorId, subject: identity.subject, ...identityColumns(identity), lastLoginAt },
    select: { id: true },
  });
  return row.id;
}

/** Refreshes the identity's copy of the upstream profile at each login. */
export async function updateIdentityAtLogin(tx: Tx, identityId: string, identity: UpstreamIdentity, now: Date): Promise<void> {
  await tx.identity.update({ where: { id: identityId }, data: { ...identityColumns(identity), lastLoginAt: now } });
}

export function listIdentities(db: Db | Tx, accountId: string) {
  return db.identity.findMany({
    where: { accountId },
    orderBy: [{ lastLoginAt: { sort: 'desc', nulls: 'last' } }, { createdAt: 'asc' }],
    select: { id: true, provider: true, subject: true, email: true, emailCanonical: true, emailVerified: true, lastLoginAt: true, createdAt: true },
  });
}

export async function findPrimaryEmail(db: Db | Tx, accountId: string): Promise<string | null | undefined> {
  const row = await db.account.findUnique({ where: { id: accountId }, select: { email: true } });
  return row ? row.email : undefined;
}

export async function setPrimaryEmail(tx: Tx, accountId: string, canonical: string | null): Promise<void> {
  await tx.account.update({ where: { id: accountId }, data: { email: canonical } });
}

/** Canonical addresses the account's identities verified, oldest identity first. */
export async function findVerifiedEmails(tx: Tx, accountId: string): Promise<string[]> {
  const rows = await tx.identity.findMany({
    where: { accountId, emailVerified: true, emailCanonical: { not: null } },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { emailCanonical: true, emailVerified: true },
  });
  return verifiedEmails(rows);
}

export function recentEvents(db: Db, accountId: string, limit: number) {
  return db.auditEvent.findMany({
    where: { accountId },
    orderBy: { createdAt: 'desc' },
    take: limit,
    select: { type: true, provider: true, clientId: true, actor: true, detail: true, createdAt: true },
  });
}

/**
 * The profile an account shows to clients (rules in ./profile.ts). Undefined when the
 * account does not exist, is disabled or was retired by a merge.
 */
export async function findAccountProfile(db: Db, accountId: string): Promise<AccountProfile | undefined> {
  // One statement: oidc-provider asks for the account at the code, token and userinfo steps
  // of every login. Only the profile fields claims need leave the database, not the raw upstream profiles.
  const { rows: [account] } = await poolOf(db).query<{ blocked: boolean; email: string | null; identities: ProfileSource[] }>({
    name: 'account-profile',
    text: `
    SELECT (a."disabledAt" IS NOT NULL OR a."retiredAt" IS NOT NULL) AS blocked, a.email,
      coalesce(json_agg(json_build_object('email', i.email, 'emailCanonical', i."emailCanonical", 'emailVerified', i."emailVerified",
        'name', i.profile->'name', 'picture', i.profile->'picture', 'username', i.profile->'username', 'groups', i.profile->'groups')
        ORDER BY i."createdAt", i.id) FILTER (WHERE i.id IS NOT NULL), '[]') AS identities
    FROM "Account" a LEFT JOIN "Identity" i ON i."accountId" = a.id
    WHERE a.id = $1
    GROUP BY a.id`,
    values: [accountId],
  });
  if (!account || account.blocked) return undefined;
  return composeProfile(accountId, account.email, account.identities);
}

export interface PendingLinkRow { id: string; interactionUid: string; identity: UpstreamIdentity; candidates: string[] }

export async function createPendingLink(tx: Tx, interactionUid: string, identity: UpstreamIdentity, candidates: string[], ttlSeconds: number): Promise<string> {
  const row = await tx.pendingLink.create({
    data: { interactionUid, identity: identity as unknown as Prisma.InputJsonObject, candidates, expiresAt: new Date(Date.now() + ttlSeconds * 1000) },
    select: { id: true },
  });
  return row.id;
}

function toPendingLink(row: { id: string; interactionUid: string; identity: unknown; candidates: unknown }): PendingLinkRow {
  return { id: row.id, interactionUid: row.interactionUid, identity: row.identity as UpstreamIdentity, candidates: row.candidates as string[] };
}

export async function findPendingLink(db: Db | Tx, id: string): Promise<PendingLinkRow | undefined> {
  const row = await db.pendingLink.findFirst({ where: { id, expiresAt: { gt: new Date() } } });
  return row ? toPendingLink(row) : undefined;
}

/**
 * The pending link, locked for the rest of the transaction: two proofs of one offer at
 * once (two tabs) are taken one after the other, and the second finds it used.
 */
export async function lockPendingLink(tx: Tx, id: string): Promise<PendingLinkRow | undefined> {
  await tx.$queryRaw`SELECT 1 FROM "PendingLink" WHERE id = ${id} FOR UPDATE`;
  return findPendingLink(tx, id);
}

export async function findPendingLinkForInteraction(db: Db, interactionUid: string): Promise<PendingLinkRow | undefined> {
  const row = await db.pendingLink.findFirst({ where: { interactionUid, expiresAt: { gt: new Date() } }, orderBy: { createdAt: 'desc' } });
  return row ? toPendingLink(row) : undefined;
}

export async function deletePendingLink(tx: Tx, id: string): Promise<void> {
  await tx.pendingLink.deleteMany({ where: { id } });
}

/** Each identity's display name and groups from its latest upstream profile, by identity id (the admin console's account page). */
export async function listIdentityProfiles(db: Db, accountId: string): Promise<Map<string, { name: string | undefined; groups: string[] }>> {
  const rows = await db.identity.findMany({ where: { accountId }, select: { id: true, profile: true } });
  return new Map(rows.map((r) => {
    const p = (r.profile ?? {}) as { name?: unknown; groups?: unknown };
    return [r.id, { name: typeof p.name === 'string' ? p.name : undefined, groups: Array.isArray(p.groups) ? p.groups.filter((g): g is string => typeof g === 'string') : [] }];
  }));
}
