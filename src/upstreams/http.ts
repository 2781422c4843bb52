import * as oidc from 'openid-client';
import type { z } from 'zod';
import { UpstreamError } from './connector.ts';

/**
 * The one way connectors call an upstream API: a time limit on every call (a hung
 * upstream must not hang the person's browser), JSON parsed and checked against a zod
 * schema before use, and every failure mapped to an UpstreamError code.
 */
export interface UpstreamHttp {
  connectorId: string;
  timeoutMs: number;
}

export async function getJson<T extends z.ZodType>(http: UpstreamHttp, url: URL, schema: T, headers: Record<string, string> = {}): Promise<z.infer<T>> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json', ...headers }, signal: AbortSignal.timeout(http.timeoutMs) });
  } catch (err) {
    throw networkError(http.connectorId, err, `GET ${url.pathname}`);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) {
    const code = res.status === 401 || res.status === 403 ? 'misconfigured' : res.status >= 500 ? 'unavailable' : 'invalid_response';
    throw new UpstreamError(http.connectorId, code, `GET ${url.pathname}: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UpstreamError(http.connectorId, 'invalid_response', `GET ${url.pathname}: not JSON`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new UpstreamError(http.connectorId, 'invalid_response', `GET ${url.pathname}: unexpected body: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export function networkError(connectorId: string, err: unknown, step: string): UpstreamError {
  const e = err as { name?: string; message?: string; cause?: { name?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.cause?.name === 'TimeoutError') {
    return new UpstreamError(connectorId, 'timeout', `${step}: no answer in time`, { cause: err });
  }
  return new UpstreamError(connectorId, 'unavailable', `${step}: ${e.message ?? String(err)}`, { cause: err });
}

/** Maps openid-client and network failures to the broker's error codes. */
export function toUpstreamError(connectorId: string, err: unknown, step: string): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as { name?: string; code?: string; error?: string; error_description?: string; message?: string };
  const detail = `${step}: ${e.error ?? e.code ?? e.name}: ${e.error_description ?? e.message ?? ''}`.trim();
  if (err instanceof oidc.AuthorizationResponseError) {
    return new UpstreamError(connectorId, e.error === 'access_denied' ? 'denied' : 'misconfigured', detail, { cause: err });
  }
  if (err instanceof oidc.ResponseBodyError) {
    const code = e.error === 'invalid_grant' ? 'expired' : e.error === 'access_denied' ? 'denied' : 'misconfigured';
    return new UpstreamError(connectorId, code, detail, { cause: err });
  }
  const network = networkError(connectorId, err, step);
  if (network.code === 'timeout' || (e.name === 'TypeError' && /fetch failed/.test(e.message ?? ''))) return network;
  return new UpstreamError(connectorId, 'invalid_response', detail, { cause: err });
}
