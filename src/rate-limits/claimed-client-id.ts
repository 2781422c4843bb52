import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Readable } from 'node:stream';
import type { Context } from 'koa';

/** oidc-provider's own limit for these bodies (lib/shared/selective_body.js). */
const BODY_LIMIT = 56 * 1024;

/**
 * The client_id a token, introspection or revocation request claims, read *before*
 * oidc-provider authenticates the client, so a client or address that is over its
 * failure limit is refused even with the right secret. It comes from HTTP Basic
 * (client_secret_basic, RFC 6749 §2.3.1: form-urlencoded, then base64) or from the form
 * body (client_secret_post, public clients). oidc-provider offers no hook between reading
 * the body and comparing the secret, so the body is read here and handed on unchanged:
 * `ctx.req` becomes a view of the request whose stream replays the same bytes.
 * Nothing here is trusted; oidc-provider still parses and checks everything.
 */
export async function claimedClientId(ctx: Context): Promise<string | undefined> {
  const basic = /^basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(ctx.get('authorization'));
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon > 0 ? formDecode(decoded.slice(0, colon)) : undefined;
  }
  if (!ctx.is('application/x-www-form-urlencoded') || ctx.request.length > BODY_LIMIT) return undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    received += chunk.length;
    if (received > BODY_LIMIT) break; // oidc-provider refuses it (invalid_request) from what it is handed
  }
  const body = Buffer.concat(chunks);
  ctx.req = replaying(ctx.req, body);
  const value = parseQuery(body.toString('utf8')).client_id;
  return typeof value === 'string' ? value : undefined;
}

function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

/** The same request, except that reading its body yields `body` (already read off the socket). */
function replaying(req: IncomingMessage, body: Buffer): IncomingMessage {
  const replay = Readable.from([body], { objectMode: false });
  const fromReplay = new Set<PropertyKey>(['readable', 'readableEncoding', 'readableEnded', 'iterator', 'read', 'pipe', Symbol.asyncIterator]);
  return new Proxy(req, {
    get(target, key) {
      const source = fromReplay.has(key) ? replay : target;
      const value: unknown = Reflect.get(source, key, source);
      return typeof value === 'function' ? value.bind(source) : value;
    },
  });
}
