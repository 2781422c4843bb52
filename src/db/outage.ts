/**
 * The one place that decides whether an error means "PostgreSQL cannot be reached right
 * now" (so the person gets 503 "temporarily unavailable" with Retry-After, and nothing
 * claims their sign-in expired or was refused). It looks through every wrapping the
 * error can arrive in: Prisma's (P1001 ..., or the pg adapter's DriverAdapterError kinds
 * in `meta.driverAdapterError`), node-postgres' own errors, socket errors, and
 * oidc-provider's or our `cause` chains. An upstream's failure is never the database's,
 * whatever socket error it wraps (an upstream refusing connections is ECONNREFUSED too).
 */
import { UpstreamError } from '../upstreams/connector.ts';

/** How long a person or client is asked to wait before retrying (Retry-After, RFC 9110 §10.2.3). */
export const DATABASE_RETRY_AFTER_SECONDS = 30;

// https://www.prisma.io/docs/orm/reference/error-reference: can't reach, timed out, server closed the
// connection, pool timeout.
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
// @prisma/adapter-pg's names for socket and connection failures.
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// node-postgres and pg-pool report a dying server with plain Errors.
const PG_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Can't reach database server/i;

/**
 * PostgreSQL SQLSTATEs that mean the server is away, not that the statement is wrong:
 * class 08 (connection exception), 57P01-57P03 (shutting down, cannot connect now),
 * 53300 (too many connections), 57014 (statement cancelled: database.statementTimeoutMs ran
 * out, the server is too slow right now). https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
function isUnavailableSqlState(code: unknown): boolean {
  return typeof code === 'string' && (/^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '53300', '57014'].includes(code));
}

export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length && seen.size < 16) {
    const e = queue.shift();
    if (e === null || typeof e !== 'object' || seen.has(e) || e instanceof UpstreamError) continue;
    seen.add(e);
    const x = e as { code?: unknown; kind?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown }; severity?: unknown };
    if (typeof x.code === 'string' && (PRISMA_CODES.has(x.code) || SOCKET_CODES.has(x.code))) return true;
    if (typeof x.kind === 'string' && ADAPTER_KINDS.has(x.kind)) return true;
    if (x.kind === 'postgres' || typeof x.severity === 'string') {
      if (isUnavailableSqlState(x.code)) return true;
    }
    if (typeof x.message === 'string' && PG_MESSAGES.test(x.message)) return true;
    queue.push(x.cause, x.meta?.driverAdapterError);
    if (e instanceof AggregateError) queue.push(...e.errors);
  }
  return false;
}

/** What an outage error says, without Prisma's first lines (which quote our code and query). */
export function outageReason(err: unknown): string {
  return err instanceof Error ? err.message.trim().split('\n').pop()!.trim() : String(err);
}

/** The log line's error for an outage. */
export function outageSummary(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${outageReason(err)}` : String(err);
}
