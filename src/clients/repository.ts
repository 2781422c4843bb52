import { randomUUID } from 'node:crypto';
import type { Prisma } from '../generated/prisma/client.ts';
import type { Db } from '../db/client.ts';
import { runtimeClientProtocolDefaults, type DatabaseClient, type RuntimeClientProtocolSettings } from './client-entry.ts';

/** The OidcClient table (Prisma only). Writes take the caller's transaction, so they land with their audit row. */

type Tx = Prisma.TransactionClient;
type Row = Awaited<ReturnType<Db['oidcClient']['findMany']>>[number];

/** What a write sets; `version` is renewed by every write (registry.ts compares them). */
export type ClientWrite = Omit<DatabaseClient, 'source' | 'confidential' | 'createdAt' | 'updatedAt' | 'adminApi' | 'canIntrospect' | 'upstreams' | 'pkce'
  | keyof RuntimeClientProtocolSettings | 'backchannelLogoutUri' | 'groupsFilter'> & {
  upstreams: string[];
  pkce: 'required' | 'optional';
};

export async function listDatabaseClients(db: Db | Tx): Promise<DatabaseClient[]> {
  return (await db.oidcClient.findMany({ orderBy: { clientId: 'asc' } })).map(toEntry);
}

export async function findDatabaseClient(db: Db | Tx, clientId: string): Promise<DatabaseClient | undefined> {
  const row = await db.oidcClient.findUnique({ where: { clientId } });
  return row ? toEntry(row) : undefined;
}

/**
 * One value that changes whenever any row is added, changed or removed: a digest of
 * every (clientId, version). Each process polls it (cheap: one row back) and reloads the
 * table only when it moved.
 */
export async function clientTableFingerprint(db: Db): Promise<string> {
  const [row] = await db.$queryRaw<{ f: string }[]>`
    SELECT md5(coalesce(string_agg("clientId" || ':' || version, ',' ORDER BY "clientId"), '')) AS f FROM "OidcClient"`;
  return row!.f;
}

export async function insertDatabaseClient(tx: Tx, c: ClientWrite): Promise<void> {
  await tx.oidcClient.create({ data: { ...columns(c), clientId: c.clientId, version: randomUUID() } });
}

export async function updateDatabaseClient(tx: Tx, c: ClientWrite): Promise<void> {
  await tx.oidcClient.update({ where: { clientId: c.clientId }, data: { ...columns(c), version: randomUUID(), updatedAt: new Date() } });
}

/** Deletes the client and what it held: its tokens, codes and grants, and remembered consents. */
export async function deleteDatabaseClient(tx: Tx, clientId: string): Promise<{ revoked: number }> {
  await tx.oidcClient.delete({ where: { clientId } });
  return { revoked: await deleteClientCredentials(tx, clientId) };
}

/**
 * Deletes the tokens, codes, grants and consents that name `clientId`: at a delete, and
 * again when a client is created, so it inherits nothing from an earlier app of that id
 * (a config-file app removed from the file, whose tokens were never revoked, or a token
 * issued by a process that had not yet seen the delete). A sequential scan of OidcModel on
 * a rare admin action; no index is kept for it.
 */
export async function deleteClientCredentials(tx: Tx, clientId: string): Promise<number> {
  const revoked = await tx.$executeRaw`DELETE FROM "OidcModel"
    WHERE model IN ('AccessToken', 'RefreshToken', 'AuthorizationCode', 'ClientCredentials', 'Grant', 'PushedAuthorizationRequest')
    AND payload->>'clientId' = ${clientId}`;
  await tx.consent.deleteMany({ where: { clientId } });
  return revoked;
}

function columns(c: ClientWrite) {
  return {
    name: c.name,
    redirectUris: c.redirectUris,
    postLogoutRedirectUris: c.postLogoutRedirectUris,
    firstParty: c.firstParty,
    grantTypes: c.grantTypes,
    upstreams: c.upstreams,
    allowSignup: c.allowSignup,
    pkce: c.pkce,
    secretHash: c.secretHash,
    metadata: c.metadata as Prisma.InputJsonObject,
  };
}

function toEntry(row: Row): DatabaseClient {
  return {
    clientId: row.clientId,
    name: row.name,
    redirectUris: row.redirectUris,
    postLogoutRedirectUris: row.postLogoutRedirectUris,
    firstParty: row.firstParty,
    grantTypes: row.grantTypes as DatabaseClient['grantTypes'],
    upstreams: row.upstreams.length ? row.upstreams : undefined,
    allowSignup: row.allowSignup,
    pkce: row.pkce === 'optional' ? 'optional' : 'required',
    // Not offered for runtime clients: the admin scope and introspecting other apps stay config-file decisions.
    adminApi: false,
    canIntrospect: [],
    ...runtimeClientProtocolDefaults(),
    confidential: row.secretHash !== null,
    secretHash: row.secretHash,
    metadata: (row.metadata ?? {}) as Record<string, unknown>,
    source: 'database',
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
