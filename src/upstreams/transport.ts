import { request, type Dispatcher } from 'undici';
import { UpstreamError } from './connector.ts';

/**
 * The most Doorman reads of one upstream answer. Token, userinfo and API answers are a
 * few KiB (a JWKS or a discovery document tens); an upstream that sends more is broken or
 * hostile, and reading on would hold memory for as long as it cares to send.
 */
export const MAX_UPSTREAM_BODY_BYTES = 1024 * 1024;

/** Statuses whose Response may not have a body (the Fetch standard's "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * One upstream HTTP call, answered as a standard `Response` (openid-client checks
 * `instanceof Response`). Global fetch would do, but its WHATWG layers (Request, streams,
 * body mixins) cost more CPU per login than the rest of the upstream hop: undici's own
 * `request()` (the client under Node's fetch, same global dispatcher, so the same
 * connection pool, CAs and NODE_USE_ENV_PROXY proxy) reads the whole body into a Buffer,
 * at most MAX_UPSTREAM_BODY_BYTES, before the Response is made.
 *
 * Differences from fetch, on purpose: redirects are never followed (openid-client asks for
 * `redirect: 'manual'` on every call; getJson refuses them), and the answer is asked for
 * uncompressed (`accept-encoding: identity`), so the size bound is the size read. Fails as
 * fetch does: the signal's reason once it fires (headers and body alike), a TypeError
 * 'fetch failed' with the network error as cause otherwise.
 */
export async function send(connectorId: string, url: URL, init: RequestInit, signal: AbortSignal): Promise<Response> {
  if (init.redirect === 'follow' || init.redirect === 'error') throw new TypeError(`upstream calls never follow redirects (asked: ${init.redirect})`);
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = plainHeaders(init.headers);
  const body = requestBody(init.body, headers);
  headers['accept'] ??= '*/*';
  headers['user-agent'] ??= 'node';
  headers['accept-encoding'] = 'identity';
  signal.throwIfAborted();
  try {
    const res = await request(url, { method, headers, body, signal });
    const answer = await readBounded(connectorId, `${method} ${url.pathname}`, res.headers, res.body);
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
      else if (value !== undefined) responseHeaders.append(name, value);
    }
    return new Response(NULL_BODY.has(res.statusCode) ? null : answer, { status: res.statusCode, statusText: res.statusText, headers: responseHeaders });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (err instanceof UpstreamError) throw err;
    throw new TypeError('fetch failed', { cause: err });
  }
}

async function readBounded(connectorId: string, step: string, headers: Record<string, string | string[] | undefined>, body: Dispatcher.ResponseData['body']): Promise<Uint8Array<ArrayBuffer>> {
  const stop = () => {
    // Destroyed without a reader, undici's body emits an 'error' (RequestAbortedError) no one else hears.
    body.on('error', () => {});
    body.destroy();
  };
  const tooLarge = () => {
    stop();
    return new UpstreamError(connectorId, 'invalid_response', `${step}: answer larger than ${MAX_UPSTREAM_BODY_BYTES} bytes, the most Doorman reads from an upstream`);
  };
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    stop();
    throw new UpstreamError(connectorId, 'invalid_response', `${step}: answer sent with Content-Encoding ${String(encoding)}, though asked for identity`);
  }
  if (Number(headers['content-length']) > MAX_UPSTREAM_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_UPSTREAM_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  // Socket data is never in a SharedArrayBuffer, so the cast holds (and Response copies the bytes).
  return (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)) as Uint8Array<ArrayBuffer>;
}

function plainHeaders(init: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = init === undefined ? [] : init instanceof Headers || Array.isArray(init) ? new Headers(init).entries() : Object.entries(init);
  for (const [name, value] of entries) out[name.toLowerCase()] = value;
  return out;
}

/** The bodies openid-client and getJson send; with fetch's default Content-Type for each. */
function requestBody(body: RequestInit['body'], headers: Record<string, string>): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    return body.toString();
  }
  if (typeof body === 'string') {
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
    return body;
  }
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError(`upstream call with an unsupported body (${Object.prototype.toString.call(body)})`);
}
