import type { Middleware } from 'koa';
import Provider from 'oidc-provider';
import type { Config } from './config/load.ts';
import { poolOf, type Db } from './db/client.ts';
import { isDatabaseUnavailable } from './db/outage.ts';
import { createCsrf } from './http/csrf.ts';
import { answerDatabaseOutages, renderProviderError } from './http/provider-errors.ts';
import { errorHandler } from './http/error-handler.ts';
import { createRenderer } from './http/render.ts';
import { securityHeaders } from './http/security-headers.ts';
import { createAdminRouter } from './admin/router.ts';
import { findConsentScope } from './consents/repository.ts';
import { createConsoleRouter } from './console/router.ts';
import { clientDisplayName } from './interactions/broker.ts';
import { createInteractionRouter } from './interactions/router.ts';
import { createAccountRouter } from './self-service/router.ts';
import type { Logger } from './log.ts';
import { openKeyRing } from './keys/key-ring.ts';
import { createPrismaAdapter, deleteExpiredOidcRows } from './oidc/adapter.ts';
import { firstPartyClientIds, providerConfiguration } from './oidc/configuration.ts';
import { createFindAccount } from './oidc/find-account.ts';
import { treatConsumeRacesAsReplays } from './oidc/token-policy.ts';
import { openConnectors } from './upstreams/registry.ts';
import { openRateLimiters } from './rate-limits/limiters.ts';
import { createRateLimits } from './rate-limits/middleware.ts';

// Generic over the context so both plain middleware and @koa/router's (which adds params) fit.
function onlyUnder<C extends Parameters<Middleware>[0]>(prefixes: string[], middleware: (ctx: C, next: () => Promise<unknown>) => unknown): Middleware {
  return (ctx, next) => (prefixes.some((p) => ctx.path.startsWith(p)) ? middleware(ctx as C, next) : next()) as Promise<unknown>;
}

export interface AppDeps { config: Config; db: Db; log: Logger }
export interface App { provider: Provider; close(): void }

/** Composition root: wires every part together. Nothing here runs at import time. */
export async function createApp({ config, db, log }: AppDeps): Promise<App> {
  const keyRing = await openKeyRing({ db, config, log });
  const { keys } = keyRing;
  const connectors = openConnectors(config.upstreams);
  const render = createRenderer();
  const clientName = (id: unknown) => clientDisplayName(config, id);

  const provider = new Provider(config.issuer, providerConfiguration({
    config,
    keys,
    adapter: createPrismaAdapter(db),
    findAccount: createFindAccount(db),
    renderError: renderProviderError(render),
    renderLogout: (ctx, form) => render(ctx, 'logout', { title: 'Sign out', form, clientName: clientName(ctx.oidc.client?.clientId) }),
    renderLoggedOut: (ctx) => render(ctx, 'logged-out', { title: 'Signed out', clientName: clientName(ctx.oidc.client?.clientId) }),
    rememberedScope: (accountId, clientId) => findConsentScope(db, accountId, clientId),
  }));
  provider.proxy = config.trustProxy;
  // koa then takes ctx.ip this many X-Forwarded-For entries from the right: the ones our proxies wrote.
  provider.maxIpsCount = config.proxyHops;
  keyRing.attach(provider);
  treatConsumeRacesAsReplays(provider);
  provider.on('server_error', (_ctx, err) => log.error(isDatabaseUnavailable(err) ? 'database unavailable' : 'provider error', { error: err }));

  const broker = { provider, db, config, connectors, firstParty: firstPartyClientIds(config), render, csrf: createCsrf(keys.cookieKeys), log, callbackPurposes: {} };
  provider.use(securityHeaders);
  provider.use(answerDatabaseOutages(provider));
  const limiters = config.rateLimits.enabled ? openRateLimiters(config.rateLimits, { pool: poolOf(db), log }) : undefined;
  if (limiters) provider.use(createRateLimits({ limiters, provider, render, log }));
  // Our routes live under these prefixes; everything else (/token, /me, /jwks, ...) goes
  // straight to oidc-provider without walking our routers.
  provider.use(onlyUnder(['/admin/api/'], createAdminRouter({ provider, db, log }).routes()));
  provider.use(onlyUnder(['/interaction/', '/upstream/', '/account', '/admin'], errorHandler(render, log)));
  provider.use(onlyUnder(['/interaction/', '/upstream/'], createInteractionRouter(broker).routes()));
  provider.use(onlyUnder(['/account'], createAccountRouter(broker).routes()));
  provider.use(onlyUnder(['/admin'], createConsoleRouter(broker).routes()));

  const sweep = () => deleteExpiredOidcRows(db).catch((err: unknown) => log.warn('sweep of expired rows failed', { error: err }));
  const timer = setInterval(sweep, config.database.sweepIntervalSeconds * 1000);
  timer.unref();
  return {
    provider,
    close: () => {
      clearInterval(timer);
      void limiters?.close();
      keyRing.close();
    },
  };
}
