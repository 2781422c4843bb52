import type { IncomingMessage } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Readable } from 'node:stream';
import type { Context } from 'koa';

/** oidc-provider's own limit for these bodies (lib/shared/selective_body.js). */
const BODY_LIMIT = 56 * 1024;

/** What a request presents to authenticate its client; both absent when it presents nothing. */
export interface ClientAuthClaim { clientId: string | undefined; secret: string | undefined }

/**
 * The client_id and secret a token, introspection or revocation request presents, read
 * *before* oidc-provider authenticates the client, so that a failure can be counted
 * atomically before it is answered and a client or address over its limit is refused
 * even with the right secret. They come from HTTP Basic (client_secret_basic, RFC 6749
 * §2.3.1: form-urlencoded, then base64) or from the form body (client_secret_post, public
 * clients). oidc-provider offers no hook between reading the body and comparing the
 * secret, so the body is read here and handed on unchanged: `ctx.req` becomes a view of
 * the request whose stream replays the same bytes. Nothing here is trusted; oidc-provider
 * still parses and checks everything.
 */
export async function claimedClientAuth(ctx: Context): Promise<ClientAuthClaim> {
  const basic = /^basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(ctx.get('authorization'));
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) return { clientId: undefined, secret: undefined };
    return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) || undefined };
  }
  if (!ctx.is('application/x-www-form-urlencoded') || ctx.request.length > BODY_LIMIT) return { clientId: undefined, secret: undefined };
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    received += chunk.length;
    if (received > BODY_LIMIT) break; // oidc-provider refuses it (invalid_request) from what it is handed
  }
  const body = Buffer.concat(chunks);
  ctx.req = replaying(ctx.req, body);
  const form = parseQuery(body.toString('utf8'));
  // A repeated parameter is an array: oidc-provider refuses it, so it claims nothing.
  const one = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
  return { clientId: one(form.client_id), secret: one(form.client_secret) };
}

/**
 * Whether oidc-provider will answer invalid_client (lib/shared/client_auth.js), as far as
 * the claim tells: an unknown client, a secret sent by a public client, or a confidential
 * client's secret missing or wrong. False when there is no client_id (that is
 * invalid_request) and when unsure; a failure is then counted after the answer.
 */
export async function isFailedClientAuth(claim: ClientAuthClaim, client: { clientAuthMethod?: string | undefined; compareClientSecret(secret: string): boolean | Promise<boolean> } | undefined): Promise<boolean> {
  if (claim.clientId === undefined) return false;
  if (!client) return true;
  if (client.clientAuthMethod === 'none') return claim.secret !== undefined;
  if (client.clientAuthMethod !== 'client_secret_basic' && client.clientAuthMethod !== 'client_secret_post') return false;
  // The client's own comparison, as oidc-provider will make it: constant time, and for an
  // app made at runtime against its stored hash (clients/provider-clients.ts).
  return claim.secret === undefined || !(await client.compareClientSecret(claim.secret));
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
