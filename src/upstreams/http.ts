import { AsyncLocalStorage } from 'node:async_hooks';
import * as oidc from 'openid-client';
import type { z } from 'zod';
import { UpstreamError } from './connector.ts';
import { send } from './transport.ts';

/**
 * The one way connectors call an upstream: one deadline per login (`timeoutMs` bounds
 * the whole callback, every call of it together, so three slow calls cannot add up to
 * three times the limit), JSON parsed and checked against a zod schema before use, and
 * every failure mapped to an UpstreamError code.
 */
export interface UpstreamCall {
  connectorId: string;
  /** Aborts every request of this login when the deadline passes (headers and body alike). */
  signal: AbortSignal;
}

export function startDeadline(connectorId: string, timeoutMs: number): UpstreamCall {
  return { connectorId, signal: AbortSignal.timeout(timeoutMs) };
}

/** Told of every upstream call's duration; the app sets one per request (metrics/). */
export type UpstreamCallObserver = (connectorId: string, step: string, outcome: 'ok' | 'error', seconds: number) => void;
// Per request rather than per connector: connectors are opened from config alone, and
// one process may run several apps (tests), each with its own metrics.
export const upstreamCallObserver = new AsyncLocalStorage<UpstreamCallObserver>();

/**
 * A fetch bound to the login's deadline, for openid-client's customFetch and our own
 * calls (transport.ts: never follows redirects, reads at most MAX_UPSTREAM_BODY_BYTES).
 * Each call's time to its whole answer is reported with its endpoint path as the step
 * (a configured or discovered endpoint, so a bounded set; never the query).
 */
export function fetchWithin(signal: AbortSignal, connectorId: string) {
  return async (url: string | URL, init: RequestInit = {}): Promise<Response> => {
    const observe = upstreamCallObserver.getStore();
    const started = performance.now();
    let outcome: 'ok' | 'error' = 'error';
    try {
      const res = await send(connectorId, new URL(url), init, init.signal ? AbortSignal.any([init.signal, signal]) : signal);
      outcome = 'ok';
      return res;
    } finally {
      observe?.(connectorId, new URL(url).pathname, outcome, (performance.now() - started) / 1000);
    }
  };
}

/** Waits for `work` (say, a shared discovery) no longer than the login's deadline. */
export function withinDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

export async function getJson<T extends z.ZodType>(call: UpstreamCall, url: URL, schema: T, headers: Record<string, string> = {}): Promise<z.infer<T>> {
  let res: Response;
  let text: string;
  try {
    // The body is read under the same deadline: an upstream that sends headers and then stalls is a timeout.
    res = await fetchWithin(call.signal, call.connectorId)(url, { headers: { accept: 'application/json', ...headers } });
    text = await res.text();
  } catch (err) {
    throw networkError(call.connectorId, err, `GET ${url.pathname}`);
  }
  // Not followed: the call carries a bearer token, and every API URL is a config key, so a
  // redirect means that key should name where it leads (and a token is never sent on to it).
  if (res.status >= 300 && res.status < 400) {
    throw new UpstreamError(call.connectorId, 'invalid_response', `GET ${url.pathname}: HTTP ${res.status} redirect to ${res.headers.get('location') ?? '(nowhere)'}; Doorman does not follow redirects from upstream APIs: configure the URL it leads to`);
  }
  if (!res.ok) {
    const code = res.status === 401 || res.status === 403 ? 'misconfigured' : res.status >= 500 ? 'unavailable' : 'invalid_response';
    throw new UpstreamError(call.connectorId, code, `GET ${url.pathname}: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UpstreamError(call.connectorId, 'invalid_response', `GET ${url.pathname}: not JSON`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new UpstreamError(call.connectorId, 'invalid_response', `GET ${url.pathname}: unexpected body: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** `err` and its causes, outermost first (openid-client nests a timeout two causes deep). */
function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 8; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

function isTimeout(err: unknown): boolean {
  return causes(err).some((e) => ['TimeoutError', 'AbortError'].includes((e as { name?: string }).name ?? '') || (e as { code?: string }).code === 'OAUTH_TIMEOUT');
}

/** HTTP status of the upstream answer an error is about, when it carries one. */
function upstreamStatus(err: unknown): number | undefined {
  for (const e of causes(err)) {
    if (e instanceof Response) return e.status;
    if (e instanceof oidc.ResponseBodyError) return e.status;
  }
  return undefined;
}

export function networkError(connectorId: string, err: unknown, step: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (isTimeout(err)) return new UpstreamError(connectorId, 'timeout', `${step}: no answer in time`, { cause: err });
  const e = err as { message?: string };
  return new UpstreamError(connectorId, 'unavailable', `${step}: ${e.message ?? String(err)}`, { cause: err });
}

/** Maps openid-client and network failures to the broker's error codes. */
export function toUpstreamError(connectorId: string, err: unknown, step: string): UpstreamError {
  // Ours from the transport (an oversize answer), however deep openid-client wrapped it.
  const own = causes(err).find((c) => c instanceof UpstreamError);
  if (own) return own as UpstreamError;
  const e = err as { name?: string; code?: string; error?: string; error_description?: string; message?: string };
  const detail = `${step}: ${e.error ?? e.code ?? e.name}: ${e.error_description ?? e.message ?? ''}`.trim();
  if (isTimeout(err)) return networkError(connectorId, err, step);
  if (err instanceof oidc.AuthorizationResponseError) {
    const code = e.error === 'access_denied' ? 'denied' : e.error === 'temporarily_unavailable' || e.error === 'server_error' ? 'unavailable' : 'misconfigured';
    return new UpstreamError(connectorId, code, detail, { cause: err });
  }
  // A 5xx is the upstream having trouble, whatever its body (HTML, garbage or an OAuth error).
  const status = upstreamStatus(err);
  if (status !== undefined && status >= 500) return new UpstreamError(connectorId, 'unavailable', `${detail} (HTTP ${status})`, { cause: err });
  if (err instanceof oidc.ResponseBodyError) {
    const code = e.error === 'invalid_grant' ? 'expired' : e.error === 'access_denied' ? 'denied'
      : e.error === 'temporarily_unavailable' || e.error === 'server_error' ? 'unavailable' : 'misconfigured';
    return new UpstreamError(connectorId, code, detail, { cause: err });
  }
  if (causes(err).some((c) => c instanceof TypeError && /fetch failed/.test(c.message))) return networkError(connectorId, err, step);
  return new UpstreamError(connectorId, 'invalid_response', detail, { cause: err });
}
