import { BENCH_CLIENTS, REDIRECT_URI, UPSTREAM_CLIENT } from './clients.ts';

/**
 * The Doorman every benchmark run measures: the bench apps (first-party, consent skipped
 * as for the baselines) brokering one Google-type upstream. Returns the config input and
 * the environment holding its secrets, for buildConfig.
 */
export function benchDoormanConfig(port: number, upstreamIssuer: string, databaseUrl: string): { input: Record<string, unknown>; env: Record<string, string> } {
  return {
    input: {
      issuer: `http://127.0.0.1:${port}`, port, logLevel: 'error',
      // Often enough that the soak shows expired rows going away, not only hidden.
      database: { sweepIntervalSeconds: 20 },
      // Every benchmark login comes from 127.0.0.1: limits it never reaches, still counted, so
      // their cost is measured; BENCH_RATE_LIMITS=off measures Doorman without them.
      rateLimits: {
        enabled: process.env.BENCH_RATE_LIMITS !== 'off',
        loginStartsPerIp: { points: 1e9, durationSeconds: 60 }, upstreamCallbacksPerIp: { points: 1e9, durationSeconds: 60 },
      },
      clients: BENCH_CLIENTS.map((c, i) => ({
        clientId: c.clientId, clientSecretEnv: `BENCH_SECRET_${i}`, redirectUris: [REDIRECT_URI], firstParty: true,
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      })),
      upstreams: [{ id: 'google', type: 'google', clientId: UPSTREAM_CLIENT.clientId, clientSecretEnv: 'BENCH_UPSTREAM_SECRET', issuer: upstreamIssuer }],
    },
    env: { DATABASE_URL: databaseUrl, BENCH_SECRET_0: BENCH_CLIENTS[0].secret, BENCH_SECRET_1: BENCH_CLIENTS[1].secret, BENCH_UPSTREAM_SECRET: UPSTREAM_CLIENT.clientSecret },
  };
}
