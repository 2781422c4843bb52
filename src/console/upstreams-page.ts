import type Router from '@koa/router';
import type { Broker } from '../interactions/broker.ts';
import { readUpstreamOverview } from '../upstream-activity/overview.ts';
import type { UpstreamActivity } from '../upstream-activity/repository.ts';
import { page, when, type AsAdmin } from './page.ts';

/**
 * GET /admin/upstreams: each configured upstream (upstreams stay in YAML) with the
 * callback URL to register, and what every Doorman process saw of it over the last hour
 * and day (src/upstream-activity). The admin API's GET /admin/api/upstreams is the same data.
 */
export function registerUpstreamsPage(router: Router, broker: Broker, asAdmin: AsAdmin): void {
  router.get('/upstreams', asAdmin(async (ctx, admin) => {
    const t = broker.render.translatorFor(ctx);
    const upstreams = await readUpstreamOverview(broker);
    broker.render(ctx, 'admin/upstreams', {
      ...page(admin, t('console.upstreams.title')),
      upstreams: upstreams.map((u) => ({
        ...u,
        windows: (['hour', 'day'] as const).map((w) => ({ name: w, ...describeWindow(u[w]) })),
        lastError: u.lastError ? { ...u.lastError, when: when(u.lastError.at) } : null,
      })),
    });
  }));
}

function describeWindow(w: UpstreamActivity['hour']) {
  const failures = Object.entries(w.failures).sort(([, a], [, b]) => b - a);
  return {
    signIns: w.signIns,
    failed: failures.reduce((n, [, count]) => n + count, 0),
    failures: failures.map(([kind, count]) => `${kind} ${count}`).join(', '),
    p50: w.latencyMs.p50, p95: w.latencyMs.p95,
  };
}
