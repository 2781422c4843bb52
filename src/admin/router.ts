import { readFileSync } from 'node:fs';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { adminLinkIdentity, getAccount, mergeAccounts, searchAccounts, setAdmin, setDisabled, type AdminOutcome } from '../accounts/admin.ts';
import { findAccountState } from '../accounts/repository.ts';
import { choosePrimaryEmail, unlinkIdentity } from '../accounts/service.ts';
import { revokeConsent } from '../consents/service.ts';
import { auditFilterSchema } from '../audit/filter.ts';
import { queryAudit } from '../audit/repository.ts';
import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';

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
 *   GET    /admin/api/audit?from=&to=&type=&provider=&clientId=&accountId=&reason=&limit=&cursor=   the audit log (audit/filter.ts)
 *   GET    /admin/api/openapi.yaml                        this contract, as served
 */
export function createAdminRouter(deps: { provider: Provider; db: Db; log: Logger }): Router {
  const { db } = deps;
  const router = new Router({ prefix: '/admin/api' });
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '16kb' });
  router.use(jsonErrors(deps.log), authenticateAdmin(deps));

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
  router.get('/audit', async (ctx) => {
    ctx.body = await queryAudit(db, parse(auditFilterSchema, ctx.query));
  });
  router.get('/openapi.yaml', (ctx) => {
    ctx.type = 'application/yaml';
    ctx.body = OPENAPI_YAML;
  });
  return router;
}

const OPENAPI_YAML = readFileSync(new URL('./openapi.yaml', import.meta.url), 'utf8');

const listQuerySchema = z.object({
  q: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(100).optional(),
});
const linkBodySchema = z.strictObject({ provider: z.string().min(1).max(100), subject: z.string().min(1).max(255), email: z.email().optional() });
const mergeBodySchema = z.strictObject({ from: z.string().min(1) });
const adminBodySchema = z.strictObject({ admin: z.boolean() });
const emailBodySchema = z.strictObject({ email: z.string().min(1).max(254) });

class ApiError extends Error {
  constructor(readonly status: number, readonly error: string, description: string, readonly headers: Record<string, string> = {}) {
    super(description);
  }
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw new ApiError(400, 'invalid_request', result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return result.data;
}

const REFUSAL_STATUS: Record<string, number> = { account_not_found: 404, not_found: 404 };

function reply(ctx: Context, outcome: AdminOutcome<object>, okStatus = 200): void {
  if (outcome.kind === 'refused') throw new ApiError(REFUSAL_STATUS[outcome.reason] ?? 409, outcome.reason, `refused: ${outcome.reason}`);
  ctx.status = okStatus;
  ctx.body = outcome;
}

function actor(ctx: Context): string {
  return `account:${ctx.state.adminAccountId as string}`;
}

function jsonErrors(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!(err instanceof ApiError)) {
        log.error('admin api failed', { path: ctx.path, error: err });
        err = new ApiError(500, 'server_error', 'unexpected error');
      }
      const e = err as ApiError;
      ctx.status = e.status;
      ctx.set('Cache-Control', 'no-store');
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
