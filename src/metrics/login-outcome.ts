import type { LoginOutcome as AccountOutcome } from '../accounts/service.ts';
import { isDatabaseUnavailable } from '../db/outage.ts';
import { BrokerError } from '../errors.ts';
import { UpstreamError } from '../upstreams/connector.ts';
import type { LoginOutcome } from './metrics.ts';

/**
 * How an upstream callback that threw counts in `doorman_logins_total`: the person said
 * no at the upstream (cancelled), a policy said no (refused, 403: the system working),
 * the upstream failed (upstream_error with its kind: what to page someone about), or the
 * callback itself was not usable (failed: expired, replayed, another browser's state).
 */
export function loginFailureOf(err: unknown): { outcome: LoginOutcome; reason: string } {
  if (isDatabaseUnavailable(err)) return { outcome: 'error', reason: 'database_unavailable' };
  if (!(err instanceof BrokerError)) return { outcome: 'error', reason: 'internal' };
  if (err.cause instanceof UpstreamError && err.cause.code === err.code) {
    if (err.code === 'denied') return { outcome: 'cancelled', reason: '' };
    if (err.status === 403) return { outcome: 'refused', reason: err.code };
    return { outcome: 'upstream_error', reason: err.code };
  }
  return { outcome: err.status === 403 ? 'refused' : 'failed', reason: err.code };
}

/** The account decision of a sign-in (accounts/service.ts resolveUpstreamLogin), as a label. */
export function linkDecisionOf(outcome: AccountOutcome): { decision: string; reason?: string } {
  switch (outcome.kind) {
    case 'refused': return { decision: 'refuse', reason: outcome.reason };
    case 'offer-link': return { decision: 'offer_link' };
    case 'signed-in': return { decision: outcome.created ? 'create' : outcome.autoLinked ? 'auto_link' : 'existing' };
  }
}
