import type { AdminOutcome } from '../accounts/admin.ts';
import { recordAudit } from '../audit/record.ts';
import type { Config } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import { runtimeClientProtocolDefaults, type ClientEntry, type DatabaseClient } from './client-entry.ts';
import { clientIdProblem, clientSettingsSchema, describeIssues, newClientSchema, settingsProblems, type ClientSettingsInput } from './input.ts';
import type { ClientRegistry } from './registry.ts';
import { deleteClientCredentials, deleteDatabaseClient, findDatabaseClient, insertDatabaseClient, updateDatabaseClient, type ClientWrite } from './repository.ts';
import { generateClientSecret, hashClientSecret } from './secret.ts';

/**
 * Creating, editing, rotating and deleting database clients: the one implementation the
 * console, the admin API and the CLI call. Each write is one transaction with its audit
 * row (actor `account:<id>` or `cli:<user>`); bad input writes nothing and comes back as
 * `invalid` with one message per problem. Config-file clients are refused as `read_only`.
 * A new secret is returned once and only its hash is stored.
 */
export interface ClientAdminDeps {
  db: Db;
  config: Config;
  /** Reloaded after each write, so this process applies it at once; the others within seconds. */
  clients: Pick<ClientRegistry, 'get' | 'refresh'>;
}

export type ClientOutcome<T = object> = AdminOutcome<T> | { kind: 'invalid'; problems: string[] };

/** A client as the console, the API and the CLI show it: never a secret or its hash. */
export interface ClientView {
  clientId: string;
  name: string;
  source: 'config' | 'database';
  readOnly: boolean;
  public: boolean;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  firstParty: boolean;
  /** Empty: every upstream. */
  upstreams: string[];
  grantTypes: string[];
  allowSignup: boolean;
  pkce: 'required' | 'optional';
}

export function viewOf(c: ClientEntry): ClientView {
  return {
    clientId: c.clientId, name: c.name ?? c.clientId, source: c.source, readOnly: c.source === 'config', public: !c.confidential,
    redirectUris: [...c.redirectUris], postLogoutRedirectUris: [...c.postLogoutRedirectUris], firstParty: c.firstParty,
    upstreams: [...(c.upstreams ?? [])], grantTypes: [...c.grantTypes], allowSignup: c.allowSignup,
    pkce: c.pkce ?? (c.confidential ? 'optional' : 'required'),
  };
}

export async function createDatabaseClient(deps: ClientAdminDeps, input: unknown, actor: string): Promise<ClientOutcome<{ client: ClientView; clientSecret?: string }>> {
  const parsed = newClientSchema.safeParse(input ?? {});
  if (!parsed.success) return { kind: 'invalid', problems: describeIssues(parsed.error) };
  const { clientId, public: isPublic, ...settings } = parsed.data;
  const idProblem = clientIdProblem(deps.config, clientId);
  const problems = [...(idProblem ? [`clientId: ${idProblem}`] : []), ...settingsProblems(deps.config, settings, isPublic)];
  if (problems.length) return { kind: 'invalid', problems };
  const clientSecret = isPublic ? undefined : generateClientSecret();
  const write: ClientWrite = { clientId, ...settings, secretHash: clientSecret ? hashClientSecret(clientSecret) : null, metadata: {} };
  const created = await deps.db.$transaction(async (tx) => {
    if (await findDatabaseClient(tx, clientId)) return false;
    await deleteClientCredentials(tx, clientId);
    await insertDatabaseClient(tx, write);
    await recordAudit(tx, { type: 'client.created', clientId, actor, changed: Object.keys(settings).sort(), set: { ...settings, public: isPublic } });
    return true;
  }).catch((err: unknown) => {
    // Two admins creating the same id at once: the primary key decides.
    if ((err as { code?: unknown }).code === 'P2002') return false;
    throw err;
  });
  if (!created) return { kind: 'refused', reason: 'client_exists' };
  await deps.clients.refresh();
  return { kind: 'done', client: viewOf({ ...write, ...runtimeClientProtocolDefaults(), upstreams: settings.upstreams, adminApi: false, canIntrospect: [], confidential: !isPublic, source: 'database' }), ...(clientSecret ? { clientSecret } : {}) };
}

/** Changes the settings named in `input` (the others stay); the result is checked as a whole. */
export async function updateDatabaseClientSettings(deps: ClientAdminDeps, clientId: string, input: unknown, actor: string): Promise<ClientOutcome<{ client: ClientView }>> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { kind: 'invalid', problems: ['the settings must be an object'] };
  return withWritableClient(deps, clientId, async (tx, current) => {
    const parsed = clientSettingsSchema.safeParse({ ...settingsOf(current), ...input });
    if (!parsed.success) return { kind: 'invalid', problems: describeIssues(parsed.error) };
    const problems = settingsProblems(deps.config, parsed.data, !current.confidential);
    if (problems.length) return { kind: 'invalid', problems };
    const before = settingsOf(current);
    const changed = (Object.keys(parsed.data) as (keyof ClientSettingsInput)[]).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(parsed.data[k]));
    const next: ClientWrite = { clientId, ...parsed.data, secretHash: current.secretHash, metadata: current.metadata };
    await updateDatabaseClient(tx, next);
    // The new values too: "who added this redirect URI" must have an answer.
    await recordAudit(tx, { type: 'client.updated', clientId, actor, changed, set: Object.fromEntries(changed.map((k) => [k, parsed.data[k]])) });
    return { kind: 'done', client: viewOf({ ...current, ...parsed.data, upstreams: parsed.data.upstreams.length ? parsed.data.upstreams : undefined }) };
  });
}

/** A new secret for a confidential client: returned this once; the old one stops working. */
export function rotateClientSecret(deps: ClientAdminDeps, clientId: string, actor: string): Promise<ClientOutcome<{ clientSecret: string }>> {
  return withWritableClient(deps, clientId, async (tx, current) => {
    if (!current.confidential) return { kind: 'refused', reason: 'public_client' };
    const clientSecret = generateClientSecret();
    await updateDatabaseClient(tx, { clientId, ...settingsOf(current), secretHash: hashClientSecret(clientSecret), metadata: current.metadata });
    await recordAudit(tx, { type: 'client.secret-rotated', clientId, actor });
    return { kind: 'done', clientSecret };
  });
}

/** Deletes the client with its tokens, grants and consents (repository.ts). */
export function deleteClient(deps: ClientAdminDeps, clientId: string, actor: string): Promise<ClientOutcome<{ revoked: number }>> {
  return withWritableClient(deps, clientId, async (tx, _current) => {
    const { revoked } = await deleteDatabaseClient(tx, clientId);
    await recordAudit(tx, { type: 'client.deleted', clientId, actor, revoked });
    return { kind: 'done', revoked };
  });
}

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

/** Runs `change` on the locked row of a database client; config clients are read-only, unknown ids not found. */
async function withWritableClient<T extends ClientOutcome<object>>(deps: ClientAdminDeps, clientId: string, change: (tx: Tx, current: DatabaseClient) => Promise<T>): Promise<T | { kind: 'refused'; reason: string }> {
  if (deps.clients.get(clientId)?.source === 'config') return { kind: 'refused', reason: 'read_only' };
  const outcome = await deps.db.$transaction(async (tx) => {
    // Row lock: two edits of one client apply one after the other, each on the other's result.
    await tx.$queryRaw`SELECT 1 FROM "OidcClient" WHERE "clientId" = ${clientId} FOR UPDATE`;
    const current = await findDatabaseClient(tx, clientId);
    if (!current) return { kind: 'refused', reason: 'not_found' } as const;
    return change(tx, current);
  });
  if (outcome.kind === 'done') await deps.clients.refresh();
  return outcome;
}

/** The grants a database client may hold (input.ts): never the device grant. */
function isRuntimeGrant(g: string): g is ClientSettingsInput['grantTypes'][number] {
  return g === 'authorization_code' || g === 'refresh_token' || g === 'client_credentials';
}

function settingsOf(c: DatabaseClient): ClientSettingsInput {
  return {
    name: c.name, redirectUris: c.redirectUris, postLogoutRedirectUris: c.postLogoutRedirectUris, firstParty: c.firstParty,
    upstreams: c.upstreams ?? [], grantTypes: c.grantTypes.filter(isRuntimeGrant), allowSignup: c.allowSignup, pkce: c.pkce ?? 'required',
  };
}
