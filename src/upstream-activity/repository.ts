import { poolOf, type Db } from '../db/client.ts';
import { Prisma } from '../generated/prisma/client.ts';

/**
 * Database access for the UpstreamCall table: what each upstream did on the login path,
 * written by every Doorman process into the shared database, so the console shows the
 * deployment's picture rather than one process's. Windows are measured on the
 * database's clock (now()), the same for every process.
 */

export interface UpstreamCallInput {
  upstream: string;
  stage: 'start' | 'callback';
  /** Absent when the call succeeded. */
  failure?: { kind: string; message: string } | undefined;
  latencyMs: number;
}

/** How long rows are kept: the page looks back one day, and a week for the last error. */
export const UPSTREAM_CALL_RETENTION_DAYS = 7;
const MESSAGE_MAX = 300;

/** A call as stored: the message already cut and cleaned, so a queued note holds little. */
export interface UpstreamCallRow { upstream: string; stage: string; ok: boolean; kind: string | null; error: string | null; latencyMs: number }

export function upstreamCallRow(call: UpstreamCallInput): UpstreamCallRow {
  return {
    upstream: call.upstream,
    stage: call.stage,
    ok: !call.failure,
    kind: call.failure?.kind ?? null,
    // PostgreSQL text cannot hold NUL, which an upstream's error body may carry.
    error: call.failure ? call.failure.message.slice(0, MESSAGE_MAX).replaceAll('\0', '\uFFFD') : null,
    latencyMs: Math.max(0, Math.round(call.latencyMs)),
  };
}

/**
 * Many calls in one statement, nothing read, on the pg pool under Prisma (as oidc/adapter.ts).
 * One array per column keeps the text, and so the named statement, the same for any count.
 * createdAt is the database's now() at the write, up to a flush interval after the call.
 */
export async function insertUpstreamCalls(db: Db, rows: readonly UpstreamCallRow[]): Promise<void> {
  if (!rows.length) return;
  await poolOf(db).query({
    name: 'upstream-calls-insert',
    text: `INSERT INTO "UpstreamCall" (upstream, stage, ok, kind, error, "latencyMs")
      SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::text[], $6::int[])`,
    values: [rows.map((r) => r.upstream), rows.map((r) => r.stage), rows.map((r) => r.ok), rows.map((r) => r.kind), rows.map((r) => r.error), rows.map((r) => r.latencyMs)],
  });
}

export interface WindowCounts { signIns: number; failures: Record<string, number> }
export interface Latency { p50: number | null; p95: number | null }
export interface UpstreamActivity {
  hour: WindowCounts & { latencyMs: Latency };
  day: WindowCounts & { latencyMs: Latency };
  lastError: { kind: string; message: string; at: Date } | null;
}

/**
 * Per upstream id: sign-ins (callbacks the upstream completed) and failures by kind over
 * the last hour and day, callback latency percentiles, and the newest failure within the
 * retention. Three statements whatever the number of rows: two index range scans over
 * the last day (createdAt leads the covering index), and one index lookup per upstream
 * for its last error.
 */
export async function readUpstreamActivity(db: Db, upstreams: readonly string[]): Promise<Map<string, UpstreamActivity>> {
  const result = new Map<string, UpstreamActivity>(upstreams.map((id) => [id, emptyActivity()]));
  if (!upstreams.length) return result;
  const queries = upstreamActivityQueries(upstreams);
  const [counts, latencies, lastErrors] = await Promise.all([
    db.$queryRaw<{ upstream: string; ok: boolean; kind: string | null; hour: number; day: number }[]>(queries.counts),
    db.$queryRaw<{ upstream: string; p50h: number | null; p95h: number | null; p50d: number | null; p95d: number | null }[]>(queries.latencies),
    db.$queryRaw<{ upstream: string; kind: string; error: string; createdAt: Date }[]>(queries.lastErrors),
  ]);
  for (const row of counts) {
    const activity = result.get(row.upstream)!;
    for (const [window, n] of [['hour', row.hour], ['day', row.day]] as const) {
      if (!n) continue;
      if (row.ok) activity[window].signIns += n;
      else activity[window].failures[row.kind ?? 'unknown'] = (activity[window].failures[row.kind ?? 'unknown'] ?? 0) + n;
    }
  }
  for (const row of latencies) {
    const activity = result.get(row.upstream)!;
    activity.hour.latencyMs = { p50: row.p50h, p95: row.p95h };
    activity.day.latencyMs = { p50: row.p50d, p95: row.p95d };
  }
  for (const row of lastErrors) result.get(row.upstream)!.lastError = { kind: row.kind, message: row.error, at: row.createdAt };
  return result;
}

/** The statements readUpstreamActivity runs (exported so a test can EXPLAIN them). */
export function upstreamActivityQueries(upstreams: readonly string[]) {
  const ids = [...upstreams];
  return {
    counts: Prisma.sql`
      SELECT "upstream", "ok", "kind",
        (count(*) FILTER (WHERE "createdAt" >= now() - interval '1 hour'))::int AS "hour",
        count(*)::int AS "day"
      FROM "UpstreamCall"
      WHERE "createdAt" >= now() - interval '1 day' AND "upstream" = ANY(${ids})
        AND ("stage" = 'callback' OR NOT "ok")
      GROUP BY "upstream", "ok", "kind"`,
    latencies: Prisma.sql`
      SELECT "upstream",
        percentile_disc(0.5) WITHIN GROUP (ORDER BY "latencyMs") FILTER (WHERE "createdAt" >= now() - interval '1 hour') AS "p50h",
        percentile_disc(0.95) WITHIN GROUP (ORDER BY "latencyMs") FILTER (WHERE "createdAt" >= now() - interval '1 hour') AS "p95h",
        percentile_disc(0.5) WITHIN GROUP (ORDER BY "latencyMs") AS "p50d",
        percentile_disc(0.95) WITHIN GROUP (ORDER BY "latencyMs") AS "p95d"
      FROM "UpstreamCall"
      WHERE "createdAt" >= now() - interval '1 day' AND "upstream" = ANY(${ids}) AND "stage" = 'callback'
      GROUP BY "upstream"`,
    // One index lookup per upstream: the newest row under ("upstream", false).
    lastErrors: Prisma.sql`
      SELECT u."upstream", e."kind", e."error", e."createdAt"
      FROM unnest(${ids}::text[]) AS u("upstream")
      CROSS JOIN LATERAL (
        SELECT "kind", "error", "createdAt" FROM "UpstreamCall" c
        WHERE c."upstream" = u."upstream" AND NOT c."ok"
        ORDER BY c."createdAt" DESC LIMIT 1
      ) e`,
  };
}

function emptyActivity(): UpstreamActivity {
  const window = () => ({ signIns: 0, failures: {}, latencyMs: { p50: null, p95: null } });
  return { hour: window(), day: window(), lastError: null };
}

/** The periodic sweep's part: rows past the retention (a range of the createdAt-led index). */
export async function deleteOldUpstreamCalls(db: Db): Promise<number> {
  return db.$executeRaw(oldUpstreamCallsDeletion());
}

export function oldUpstreamCallsDeletion(): Prisma.Sql {
  return Prisma.sql`DELETE FROM "UpstreamCall" WHERE "createdAt" < now() - make_interval(days => ${UPSTREAM_CALL_RETENTION_DAYS}::int)`;
}
