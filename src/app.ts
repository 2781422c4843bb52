import type { EventEmitter } from 'node:events';
import Provider from 'oidc-provider';
import type { Config } from './config/load.ts';
import { poolOf, type Db } from './db/client.ts';
import { isDatabaseUnavailable } from './db/outage.ts';
import { createCsrf } from './http/csrf.ts';
import { answerDatabaseOutages, renderProviderError } from './http/provider-errors.ts';
import { errorHandler } from './http/error-handler.ts';
import { createRenderer } from './http/render.ts';
import { requestGuard } from './http/request-guard.ts';
import { byPathPrefix } from './http/prefix-dispatch.ts';
import { securityHeaders } from './http/security-headers.ts';
import { createAdminRouter } from './admin/router.ts';
import { findConsentScope } from './consents/repository.ts';
import { createConsoleRouter } from './console/router.ts';
import { clientDisplayName } from './interactions/broker.ts';
import { clientReturnUrl } from './http/app-links.ts';
import { homePage } from './http/home.ts';
import { createInteractionRouter } from './interactions/router.ts';
import { startUpstreamAtAuthorization } from './interactions/direct-start.ts';
import { createAccountRouter } from './self-service/router.ts';
import { BrokerError, clientErrorStatus } from './errors.ts';
import type { Logger } from './log.ts';
import { openKeyRing } from './keys/key-ring.ts';
import { createOidcAdapter, deleteExpiredOidcRows, RowsAlreadyRead } from './oidc/adapter.ts';
import { deleteOldUpstreamCalls } from './upstream-activity/repository.ts';
import { UpstreamCallNotes } from './upstream-activity/upstream-call-notes.ts';
import { providerConfiguration, tokenExchangeEnabled } from './oidc/configuration.ts';
import { cacheProviderDocuments } from './oidc/document-cache.ts';
import { openClientRegistry } from './clients/registry.ts';
import { compareHashedSecrets, withDatabaseClients } from './clients/provider-clients.ts';
import { createFindAccount } from './oidc/find-account.ts';
import { openProfileCache } from './accounts/profile-cache.ts';
import { openNotifications } from './db/notifications.ts';
import { treatConsumeRacesAsReplays } from './oidc/token-policy.ts';
import { readPairwiseSalt } from './claims/repository.ts';
import { openConnectors } from './upstreams/registry.ts';
import { registerTokenExchange } from './token-vault/exchange-grant.ts';
import { openTokenVault } from './token-vault/vault.ts';
import { openRateLimiters } from './rate-limits/limiters.ts';
import { createRateLimits } from './rate-limits/middleware.ts';
import { readMigrationNames } from './db/migrate.ts';
import { createHealthChecks } from './health/health-checks.ts';
import { requestLog } from './http/request-log.ts';
import { serveMetrics } from './metrics/endpoint.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { countProviderEvents } from './metrics/provider-events.ts';
import { ACCOUNT_CLIENT_ID } from './self-service/session.ts';
import { startLogoutDelivery } from './logout/delivery.ts';
import { createUpstreamSignOutRouter, upstreamSignOut } from './logout/upstream-sign-out.ts';
import { createDevicePages } from './device/pages.ts';
import { deviceFlowRequests } from './device/requests.ts';
import { isDeviceFlowEnabled } from './device/settings.ts';

/** Where our own pages live: errors there become a page, and an unmatched path there a 404 page. */
const PAGE_PREFIXES = ['/interaction/', '/upstream/', '/account', '/admin'];

export interface AppDeps { config: Config; db: Db; log: Logger }
export interface App { provider: Provider; metrics: Metrics; close(): Promise<void> }

/** Composition root: wires every part together. Nothing here runs at import time. */
export async function createApp({ config, db, log }: AppDeps): Promise<App> {
  const keyRing = await openKeyRing({ db, config, log });
  const { keys } = keyRing;
  const clients = await openClientRegistry({ config, db, log });
  const connectors = openConnectors(config.upstreams);
  const render = createRenderer({ ui: config.ui });
  const clientName = (ctx: Parameters<typeof render.translatorFor>[0], id: unknown) => clientDisplayName(clients, id, render.translatorFor(ctx)('client.account'));

  const rowsAlreadyRead = new RowsAlreadyRead();
  // One LISTEN connection for the claims cache and the rate limits' blocked keys, opened by the first to subscribe.
  const notifications = openNotifications(poolOf(db), log);
  const profiles = await openProfileCache(db, config.database.claimsCacheSeconds, notifications);
  const provider = new Provider(config.issuer, providerConfiguration({
    config,
    clients,
    keys,
    adapter: withDatabaseClients(createOidcAdapter(db, rowsAlreadyRead), clients, tokenExchangeEnabled(config)),
    findAccount: createFindAccount(profiles.find),
    renderError: renderProviderError(render, clients),
    renderLogout: (ctx, form) => render(ctx, 'logout', { form, clientName: clientName(ctx, ctx.oidc.client?.clientId) }),
    renderLoggedOut: (ctx) => render(ctx, 'logged-out', { clientName: clientName(ctx, ctx.oidc.client?.clientId), appUrl: clientReturnUrl(clients, ctx.oidc.client?.clientId) }),
    rememberedScope: (accountId, clientId) => findConsentScope(db, accountId, clientId),
    pairwiseSalt: await readPairwiseSalt(db),
    devicePages: createDevicePages(render, config.ttl.deviceCode, config.resourceServers),
  }));
  provider.proxy = config.trustProxy;
  // koa then takes ctx.ip this many X-Forwarded-For entries from the right: the ones our proxies wrote.
  provider.maxIpsCount = config.proxyHops;
  keyRing.attach(provider);
  const tokenVault = openTokenVault(config, db, connectors);
  if (tokenVault) registerTokenExchange(provider, { db, vault: tokenVault, upstreams: config.upstreams });
  treatConsumeRacesAsReplays(provider);
  const logoutDelivery = startLogoutDelivery({ provider, db, settings: config.backchannelLogout, log });
  compareHashedSecrets(provider, clients);
  provider.on('server_error', (_ctx, err) => log.error(isDatabaseUnavailable(err) ? 'database unavailable' : 'provider error', { error: err }));
  // Errors no middleware answered reach Koa, whose default prints a stack trace outside the log.
  // (@types/oidc-provider types only the provider's own events; Koa's 'error' is there too.)
  (provider as unknown as EventEmitter).on('error', (err: unknown, ctx?: { path?: string }) => {
    (clientErrorStatus(err) ? log.debug : log.error)('request failed', { path: ctx?.path, error: err });
  });

  const metrics = createMetrics({
    pool: poolOf(db), isKnownClient: (id) => id === ACCOUNT_CLIENT_ID || clients.get(id) !== undefined, upstreamIds: connectors.keys(), processMetrics: config.metrics.enabled,
  });
  countProviderEvents(provider, metrics);
  const migrations = await readMigrationNames();

  const upstreamCallNotes = new UpstreamCallNotes({ db, log });
  const broker = { provider, db, config, clients, connectors, tokenVault, render, csrf: createCsrf(keys.cookieKeys), log, metrics, upstreamCallNotes, rowsAlreadyRead, callbackPurposes: {} };
  // Probes and the scrape come first: not access-logged, not in the HTTP histogram, never rate limited.
  provider.use(createHealthChecks({ pool: poolOf(db), keys, migrations, log }));
  if (config.metrics.enabled && config.metrics.port === undefined) provider.use(serveMetrics(metrics));
  provider.use(requestLog(log, metrics));
  provider.use(securityHeaders);
  provider.use(requestGuard(render));
  provider.use(cacheProviderDocuments(provider, () => keyRing.keys.jwks));
  provider.use(answerDatabaseOutages(provider));
  const limiters = config.rateLimits.enabled ? await openRateLimiters(config.rateLimits, { pool: poolOf(db), notifications, log }) : undefined;
  if (limiters) provider.use(createRateLimits({ limiters, provider, render, log }));
  if (isDeviceFlowEnabled(config)) provider.use(deviceFlowRequests(provider));
  // After the rate limits: a refused authorization request never starts an upstream login.
  provider.use(startUpstreamAtAuthorization(broker));
  // Our routes live under these prefixes; everything else (/token, /me, /jwks, ...) goes
  // straight to oidc-provider without walking our routers (one scan of the prefixes).
  provider.use(byPathPrefix([
    [['/admin/api/'], createAdminRouter({ provider, db, log, config, clients, connectors, upstreamCallNotes }).routes()],
    [PAGE_PREFIXES, errorHandler(render, log)],
    [['/interaction/', '/upstream/'], createInteractionRouter(broker).routes()],
    [['/upstream/'], createUpstreamSignOutRouter(broker).routes()],
    [['/session/end/confirm'], upstreamSignOut(broker)],
    [['/account'], createAccountRouter(broker).routes()],
    [['/admin'], createConsoleRouter(broker, keyRing).routes()],
    // No route matched under our prefixes: a page for a person, not Koa's plain-text 404.
    [PAGE_PREFIXES, () => {
      throw new BrokerError('not_found', 'no such page', { status: 404 });
    }],
  ]));
  provider.use(homePage(render));

  const sweep = () => Promise.all([deleteExpiredOidcRows(db), deleteOldUpstreamCalls(db)]).catch((err: unknown) => log.warn('sweep of expired rows failed', { error: err }));
  const timer = setInterval(sweep, config.database.sweepIntervalSeconds * 1000);
  timer.unref();
  return {
    provider,
    metrics,
    close: async () => {
      clearInterval(timer);
      void limiters?.close();
      void profiles.close();
      keyRing.close();
      await logoutDelivery.close();
      clients.close();
      // After the server has drained: the last logins' notes, before the pool closes.
      await upstreamCallNotes.close();
    },
  };
}
