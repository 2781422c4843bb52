import type pg from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Doorman's Prometheus metrics, one registry per app (so that two Doormans in one process,
 * as in tests, do not share counters). Every label value is drawn from a bounded set:
 * route patterns (never raw paths), configured client and upstream ids, error codes from
 * our own enums; anything else collapses to `other` or `unknown`. No account, interaction
 * or token id and no email ever becomes a label (a label per person would be unbounded
 * memory in Prometheus, and personal data in a place nobody thinks to protect).
 */
export type LoginOutcome = 'success' | 'link_offered' | 'refused' | 'cancelled' | 'upstream_error' | 'failed' | 'error';

export interface LoginLabels {
  upstream: string | undefined;
  client: string | undefined;
  purpose: string | undefined;
  outcome: LoginOutcome;
  /** Why it was refused or failed (a refusal reason or error code); empty on success. */
  reason?: string;
}

export interface Metrics {
  readonly registry: Registry;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  countLogin(labels: LoginLabels): void;
  countLinkDecision(decision: string, reason?: string): void;
  countGrant(grantType: unknown, outcome: string): void;
  countTokenIssued(kind: string): void;
  observeUpstreamCall(upstream: string, step: string, outcome: 'ok' | 'error', seconds: number): void;
}

export interface MetricsDeps {
  pool: pg.Pool;
  /** Apps counted under their own id (the registry's, and the Account page); others count as `other`. */
  isKnownClient: (clientId: string) => boolean;
  upstreamIds: Iterable<string>;
  /** false: no default process metrics (nothing serves them). */
  processMetrics: boolean;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const GRANT_TYPES = new Set(['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:token-exchange']);
const LABEL_VALUE = /^[a-z0-9_:./-]{1,64}$/i;
// Login and upstream latencies run into seconds (a slow upstream, a 10 s deadline).
const SLOW_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics({ pool, isKnownClient, upstreamIds, processMetrics }: MetricsDeps): Metrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  const upstreams = new Set(upstreamIds);
  const client = (id: string | undefined) => (id === undefined ? 'none' : isKnownClient(id) ? id : 'other');
  const upstream = (id: string | undefined) => (id === undefined ? 'unknown' : upstreams.has(id) ? id : 'other');
  // Codes come from our enums; the check only guards against a free-text message slipping in.
  const code = (value: string | undefined) => (!value ? '' : LABEL_VALUE.test(value) ? value : 'other');

  const requests = new Histogram({
    name: 'doorman_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern (unmatched for any path no route knows) and status; _count is the number of requests.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const logins = new Counter({
    name: 'doorman_logins_total',
    help: 'Upstream callbacks by upstream, client, purpose (login, link-proof, account-link) and outcome, with the refusal reason or error code.',
    labelNames: ['upstream', 'client', 'purpose', 'outcome', 'reason'] as const,
    registers: [registry],
  });
  const linkDecisions = new Counter({
    name: 'doorman_link_decisions_total',
    help: 'What a sign-in did to accounts: existing, create, auto_link, offer_link, refuse (with reason), proof_linked, proof_refused (with reason).',
    labelNames: ['decision', 'reason'] as const,
    registers: [registry],
  });
  const grants = new Counter({
    name: 'doorman_token_grants_total',
    help: 'Token endpoint requests by grant type and outcome (success, or the OAuth error code).',
    labelNames: ['grant_type', 'outcome'] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'doorman_tokens_issued_total',
    help: 'Tokens and codes issued, by kind (access_token, refresh_token, authorization_code, client_credentials).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const upstreamCalls = new Histogram({
    name: 'doorman_upstream_request_duration_seconds',
    help: 'HTTP calls to upstreams by upstream, step (the endpoint path) and outcome (error: no usable answer: none, cut off by the login deadline, or over the size bound); the time is to the whole answer.',
    labelNames: ['upstream', 'step', 'outcome'] as const,
    buckets: SLOW_BUCKETS,
    registers: [registry],
  });
  const connections = new Gauge({
    name: 'doorman_db_pool_connections',
    help: 'Database pool connections by state: in_use, idle, and waiting (requests queued for a connection).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
  void connections;

  return {
    registry,
    observeRequest: (method, route, status, seconds) =>
      requests.observe({ method: METHODS.has(method) ? method : 'other', route, status: String(status) }, seconds),
    countLogin: (l) => logins.inc({ upstream: upstream(l.upstream), client: client(l.client), purpose: code(l.purpose), outcome: l.outcome, reason: code(l.reason) }),
    countLinkDecision: (decision, reason) => linkDecisions.inc({ decision, reason: code(reason) }),
    countGrant: (grantType, outcome) =>
      grants.inc({ grant_type: typeof grantType === 'string' && GRANT_TYPES.has(grantType) ? grantType : 'other', outcome: code(outcome) }),
    countTokenIssued: (kind) => tokens.inc({ kind }),
    observeUpstreamCall: (id, step, outcome, seconds) => upstreamCalls.observe({ upstream: upstream(id), step: code(step), outcome }, seconds),
  };
}
