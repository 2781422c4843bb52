import { connectionConfig } from '../db/client.ts';
import { upstreamCallbackUrl } from '../interactions/broker.ts';
import type { Config } from './load.ts';

/**
 * The fields of the one line Doorman logs when it has started: what an operator checks
 * first (which issuer, which database, which apps and upstreams, and the callback URL to
 * register at each upstream). The database is named by host, port and name only: the
 * URL's user and password never reach the log.
 */
export function startSummary(config: Config, at: { port: number; host: string; databaseUrl: string; embedded: boolean; metricsPort: number | undefined }): Record<string, unknown> {
  return {
    issuer: config.issuer,
    host: at.host,
    port: at.port,
    database: `${at.embedded ? 'embedded PostgreSQL at ' : ''}${describeDatabase(at.databaseUrl)}`,
    clients: config.clients.map((c) => c.clientId),
    upstreams: config.upstreams.map((u) => ({ id: u.id, type: u.type, callbackUrl: upstreamCallbackUrl(config, u.id).href })),
    metrics: !config.metrics.enabled ? 'off' : at.metricsPort !== undefined ? `port ${at.metricsPort} /metrics` : '/metrics',
  };
}

export function describeDatabase(databaseUrl: string): string {
  if (!URL.canParse(databaseUrl)) return 'unparsable DATABASE_URL';
  const url = new URL(databaseUrl);
  const { schema } = connectionConfig(databaseUrl);
  return `${url.hostname}:${url.port || 5432}${url.pathname}${schema ? ` (schema ${schema})` : ''}`;
}
