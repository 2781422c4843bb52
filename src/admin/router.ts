import { readFileSync } from 'node:fs';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { adminLinkIdentity, getAccount, mergeAccounts, searchAccounts, setAdmin, setDisabled, refusalStatus, type AdminOutcome } from '../accounts/admin.ts';
import { findAccountState } from '../accounts/repository.ts';
import { choosePrimaryEmail, unlinkIdentity } from '../accounts/service.ts';
import { revokeConsent } from '../consents/service.ts';
import { auditFilterSchema } from '../audit/filter.ts';
import { queryAudit } from '../audit/repository.ts';
import type { Config } from '../config/load.ts';
import type { Db } from '../db/client.ts';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable, outageSummary } from '../db/outage.ts';
import { clientErrorStatus } from '../errors.ts';
import type { ClientRegistry } from '../clients/registry.ts';
import { createDatabaseClient, deleteClient, rotateClientSecret, updateDatabaseClientSettings, viewOf, type ClientOutcome } from '../clients/service.ts';
import type { Logger } from '../log.ts';
import { readUpstreamOverview } from '../upstream-activity/overview.ts';
import type { UpstreamCallNotes } from '../upstream-activity/upstream-call-notes.ts';
import type { UpstreamConnector } from '../upstreams/connector.ts';

/**
 * The admin API (JSON; contract in admin/openapi.yaml). Every request carries a Doorman
 * access token (Authorization: Bearer) that has the `admin` scope AND belongs to an
 * account holding the admin role, checked at each request so a revoked role or a disabled
 * account stops working at once.
 *
 *   GET    /admin/api/accounts?q=&limit=&cursor=          list and search
 *   GET    /admin/api/accounts/:id                        one account, its identities and audit
 *   POST   /admin/api/accounts/:id/identities             link {provider, subject, email?}
 *   DELETE /admin/api/accounts/:id/identities/:identityId unlink (never the last)
 *   POST   /admin/api/accounts/:id/merge                  merge {from} into :id
 *   POST   /admin/api/accounts/:id/disable                disable: ends sessions, revokes grants and tokens
 *   POST   /admin/api/accounts/:id/enable
 *   PUT    /admin/api/accounts/:id/admin                  {admin: boolean}
 *   PUT    /admin/api/accounts/:id/email                  {email}: primary email, among verified ones
 *   DELETE /admin/api/accounts/:id/consents/:clientId     revoke an app's remembered consent, grants and tokens
 *   GET    /admin/api/clients                             every app: config file (readOnly) and database
 *   POST   /admin/api/clients                             create {clientId, name, redirectUris, ...}: 201 with the secret, shown once
 *   GET    /admin/api/clients/:clientId                   one app
 *   PATCH  /admin/api/clients/:clientId                   change the settings named in the body
 *   POST   /admin/api/clients/:clientId/secret            rotate: the new secret, shown once
 *   DELETE /admin/api/clients/:clientId                   delete, with its tokens, grants and consents
 *
 * Every answer is JSON and uncacheable; every error is {error, error_description}, bad
 * input included (malformed ids, bodies over 16 kB, JSON that is not an object), and an
 * unknown path under /admin/api is a 404 of the same shape.
 *   GET    /admin/api/audit?from=&to=&type=&provider=&clientId=&accountId=&reason=&limit=&cursor=   the audit log (audit/filter.ts)
 *   GET    /admin/api/upstreams                           each upstream: callback URL, sign-ins, failures, latency (upstream-activity/)
 *   GET    /admin/api/openapi.yaml                        this contract, as served
 */
export function createAdminRouter(deps: { provider: Provider; db: Db; log: Logger; config: Config; clients: ClientRegistry; connectors: ReadonlyMap<string, UpstreamConnector>; upstreamCallNotes: UpstreamCallNotes }): Router {
  const { db } = deps;
  const clientAdmin = { db, config: deps.config, clients: deps.clients };
  const router = new Router({ prefix: '/admin/api' });
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: BODY_LIMIT });
  router.use(jsonResponses(deps.log), authenticateAdmin(deps));
  // Ids are checked before any handler sees them (a NUL would otherwise reach PostgreSQL).
  for (const name of ['id', 'identityId']) router.param(name, (value, _ctx, next) => (parse(idSchema, value, name), next()));
  router.param('clientId', (value, _ctx, next) => (parse(clientIdSchema, value, 'clientId'), next()));

  router.get('/accounts', async (ctx) => {
    const query = parse(listQuerySchema, ctx.query);
    ctx.body = await searchAccounts(db, { limit: query.limit, ...(query.q ? { query: query.q } : {}), ...(query.cursor ? { cursor: query.cursor } : {}) });
  });
  router.get('/accounts/:id', async (ctx) => {
    const account = await getAccount(db, ctx.params.id!);
    if (!account) throw new ApiError(404, 'not_found', 'no such account');
    ctx.body = account;
  });
  router.post('/accounts/:id/identities', json, async (ctx) => {
    const body = parse(linkBodySchema, ctx.request.body);
    reply(ctx, await adminLinkIdentity(db, ctx.params.id!, body, actor(ctx)), 201);
  });
  router.delete('/accounts/:id/identities/:identityId', async (ctx) => {
    const outcome = await unlinkIdentity(db, ctx.params.id!, ctx.params.identityId!, actor(ctx));
    reply(ctx, outcome.kind === 'unlinked' ? { kind: 'done' } : outcome);
  });
  router.post('/accounts/:id/merge', json, async (ctx) => {
    const body = parse(mergeBodySchema, ctx.request.body);
    reply(ctx, await mergeAccounts(db, ctx.params.id!, body.from, actor(ctx)));
  });
  router.post('/accounts/:id/disable', async (ctx) => reply(ctx, await setDisabled(db, ctx.params.id!, true, actor(ctx))));
  router.post('/accounts/:id/enable', async (ctx) => reply(ctx, await setDisabled(db, ctx.params.id!, false, actor(ctx))));
  router.put('/accounts/:id/admin', json, async (ctx) => {
    const body = parse(adminBodySchema, ctx.request.body);
    reply(ctx, await setAdmin(db, ctx.params.id!, body.admin, actor(ctx)));
  });
  router.put('/accounts/:id/email', json, async (ctx) => {
    const body = parse(emailBodySchema, ctx.request.body);
    reply(ctx, await choosePrimaryEmail(db, ctx.params.id!, body.email, actor(ctx)));
  });
  router.delete('/accounts/:id/consents/:clientId', async (ctx) => {
    const outcome = await revokeConsent(db, ctx.params.id!, ctx.params.clientId!, actor(ctx));
    const result: AdminOutcome<{ revokedGrants: number }> = outcome.kind === 'revoked' ? { kind: 'done', revokedGrants: outcome.revokedGrants } : { kind: 'refused', reason: 'not_found' };
    reply(ctx, result);
  });
  router.get('/clients', (ctx) => {
    ctx.body = { clients: deps.clients.list().map(viewOf) };
  });
  router.post('/clients', json, async (ctx) => replyClient(ctx, await createDatabaseClient(clientAdmin, ctx.request.body, actor(ctx)), 201));
  router.get('/clients/:clientId', (ctx) => {
    const client = deps.clients.get(ctx.params.clientId);
    if (!client) throw new ApiError(404, 'not_found', 'no such client');
    ctx.body = viewOf(client);
  });
  router.patch('/clients/:clientId', json, async (ctx) => replyClient(ctx, await updateDatabaseClientSettings(clientAdmin, ctx.params.clientId!, ctx.request.body, actor(ctx))));
  router.post('/clients/:clientId/secret', async (ctx) => replyClient(ctx, await rotateClientSecret(clientAdmin, ctx.params.clientId!, actor(ctx))));
  router.delete('/clients/:clientId', async (ctx) => replyClient(ctx, await deleteClient(clientAdmin, ctx.params.clientId!, actor(ctx))));
  router.get('/audit', async (ctx) => {
    ctx.body = await queryAudit(db, parse(auditFilterSchema, ctx.query));
  });
  router.get('/upstreams', async (ctx) => {
    ctx.body = { upstreams: await readUpstreamOverview(deps) };
  });
  router.get('/openapi.yaml', (ctx) => {
    ctx.type = 'application/yaml';
    ctx.body = OPENAPI_YAML;
  });
  router.all('/{*rest}', () => {
    throw new ApiError(404, 'not_found', 'no such endpoint');
  });
  return router;
}

const BODY_LIMIT = '16kb';
/** Account and identity ids are Prisma uuid()s; anything else names nothing. */
const idSchema = z.uuid();
/** Text that PostgreSQL can store: no NUL, no unpaired UTF-16 surrogate. */
const text = () => z.string().refine((s) => !/\0|\p{Cs}/u.test(s), 'must not contain NUL or unpaired surrogates');
const OPENAPI_YAML = readFileSync(new URL('./openapi.yaml', import.meta.url), 'utf8');

const listQuerySchema = z.object({
  q: text().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: idSchema.optional(),
});
const linkBodySchema = z.strictObject({
  provider: z.string().regex(/^[a-z0-9][a-z0-9-]{0,99}$/, 'must be an upstream id'),
  subject: text().min(1).max(255),
  email: z.email().max(320).optional(),
});
const mergeBodySchema = z.strictObject({ from: idSchema });
/** Config-file client ids are any printable ASCII (config/schema.ts); database ones are stricter (clients/input.ts). */
const clientIdSchema = z.string().min(1).max(200).regex(/^[\x20-\x7E]+$/, 'must be printable ASCII');
const adminBodySchema = z.strictObject({ admin: z.boolean() });
const emailBodySchema = z.strictObject({ email: text().min(1).max(254) });

class ApiError extends Error {
  constructor(readonly status: number, readonly error: string, description: string, readonly headers: Record<string, string> = {}) {
    super(description);
  }
}

/** Parses `input` (a body, query or path parameter, named by `where` in errors) or throws a 400. */
function parse<T extends z.ZodType>(schema: T, input: unknown, where = 'body'): z.infer<T> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw new ApiError(400, 'invalid_request', result.error.issues.map((i) => `${i.path.join('.') || where}: ${i.message}`).join('; '));
  return result.data;
}


function reply(ctx: Context, outcome: AdminOutcome<object>, okStatus = 200): void {
  if (outcome.kind === 'refused') throw new ApiError(refusalStatus(outcome.reason), outcome.reason, `refused: ${outcome.reason}`);
  ctx.status = okStatus;
  ctx.body = outcome;
}

function replyClient(ctx: Context, outcome: ClientOutcome<object>, okStatus = 200): void {
  if (outcome.kind === 'invalid') throw new ApiError(400, 'invalid_request', outcome.problems.join('; '));
  reply(ctx, outcome, okStatus);
}

function actor(ctx: Context): string {
  return `account:${ctx.state.adminAccountId as string}`;
}

/** Admin data is never cached (answers and errors alike); errors become {error, error_description}. */
function jsonResponses(log: Logger): Middleware {
  return async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      const clientStatus = err instanceof ApiError ? undefined : clientErrorStatus(err);
      if (clientStatus) {
        // The body parser's own refusals: 413 over BODY_LIMIT, 400 malformed or non-object JSON, 415 charset.
        const { message, expose } = err as Error & { expose?: boolean };
        // JSON.parse's and co-body's SyntaxErrors only quote the client's own body back to it.
        const description = expose || err instanceof SyntaxError ? message : 'the body could not be read';
        err = new ApiError(clientStatus, clientStatus === 413 ? 'request_too_large' : 'invalid_request', description);
      } else if (!(err instanceof ApiError) && isDatabaseUnavailable(err)) {
        // Truthful: the admin may simply retry (the outage wrote nothing), as /token's clients do.
        log.error('database unavailable', { errorCode: 'temporarily_unavailable', path: ctx.path, error: outageSummary(err) });
        err = new ApiError(503, 'temporarily_unavailable', 'the database is temporarily unavailable; retry later', { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) });
      } else if (!(err instanceof ApiError)) {
        log.error('admin api failed', { path: ctx.path, error: err });
        err = new ApiError(500, 'server_error', 'unexpected error');
      }
      const e = err as ApiError;
      ctx.status = e.status;
      for (const [k, v] of Object.entries(e.headers)) ctx.set(k, v);
      ctx.body = { error: e.error, error_description: e.message };
    }
  };
}

/** RFC 6750 bearer authentication against Doorman's own access tokens. */
function authenticateAdmin({ provider, db }: { provider: Provider; db: Db }): Middleware {
  const challenge = (error: string) => ({ 'WWW-Authenticate': `Bearer realm="doorman-admin", error="${error}"` });
  return async (ctx, next) => {
    const match = /^Bearer ([\w.~+/-]+=*)$/i.exec(ctx.get('authorization'));
    if (!match) throw new ApiError(401, 'invalid_token', 'a bearer token is required', { 'WWW-Authenticate': 'Bearer realm="doorman-admin"' });
    const token = await provider.AccessToken.find(match[1]!);
    // As userinfo and introspection do: a token saved while its grant was being revoked
    // (the winner of a code or refresh race, oidc/token-policy.ts) outlives the revocation.
    const grant = token?.grantId ? await provider.Grant.find(token.grantId) : undefined;
    if (!token?.accountId || !grant) throw new ApiError(401, 'invalid_token', 'the token is unknown, expired or revoked', challenge('invalid_token'));
    if (!token.scopes.has('admin')) throw new ApiError(403, 'insufficient_scope', 'the token lacks the admin scope', challenge('insufficient_scope'));
    const account = await findAccountState(db, token.accountId);
    if (!account?.admin || account.disabledAt || account.retiredAt) throw new ApiError(403, 'forbidden', 'the token\'s account is not an admin');
    ctx.state.adminAccountId = account.id;
    await next();
  };
}
