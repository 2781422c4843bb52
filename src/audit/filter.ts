import { z } from 'zod';
import type { AuditEventInput } from './record.ts';

/**
 * The audit query shared by the admin console and GET /admin/api/audit: every filter is
 * optional, an empty form field means "any", times are UTC. `from` is inclusive, `to`
 * exclusive, except that a bare date as `to` includes that whole day.
 */
/** A form field left empty (or only spaces) is absent; text is trimmed. The console's forms read theirs the same way. */
export const blankIsAbsent = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v);
const text = (max: number) => z.preprocess(blankIsAbsent, z.string().max(max, `at most ${max} characters`).optional());

// A date (2026-11-22), a datetime-local value (2026-11-22T10:30) or a full ISO 8601 time.
const TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const time = (endOfDay: boolean) => z.preprocess(blankIsAbsent, z.string().max(40).regex(TIME, 'a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM), UTC').transform((v, ctx) => {
  const dateOnly = v.length === 10;
  const withZone = dateOnly || /(Z|[+-]\d{2}:\d{2})$/.test(v) ? v : `${v}Z`;
  const at = new Date(withZone);
  if (Number.isNaN(at.getTime())) {
    ctx.addIssue({ code: 'custom', message: 'not a real date' });
    return z.NEVER;
  }
  return dateOnly && endOfDay ? new Date(at.getTime() + 24 * 3600 * 1000) : at;
}).optional());

/** Every event type audit/record.ts writes, for the console's filter choices. */
export const AUDIT_EVENT_TYPES = [
  'login', 'login.refused', 'account.created', 'link.offered', 'link.refused', 'identity.linked', 'identity.unlinked', 'account.email', 'email.collision',
  'account.merged', 'account.retired', 'account.disabled', 'account.enabled', 'admin.granted', 'admin.revoked', 'consent.granted', 'consent.revoked',
  'session.revoked', 'grant.revoked', 'account.signed-out', 'client.created', 'client.updated', 'client.secret-rotated', 'client.deleted',
  'token.exchanged', 'upstream-tokens.dropped', 'keys.rotated', 'key.retired',
] as const satisfies readonly AuditEventInput['type'][];
// The list repeats record.ts's union by hand; a type record.ts gains must be added here too, or this fails to compile.
const everyTypeListed: Exclude<AuditEventInput['type'], (typeof AUDIT_EVENT_TYPES)[number]> extends never ? true : never = true;
void everyTypeListed;

export const auditFilterSchema = z.object({
  from: time(false),
  to: time(true),
  type: z.preprocess(blankIsAbsent, z.string().max(64, 'at most 64 characters').regex(/^[a-z.-]+$/, 'an event type such as login.refused').optional()),
  provider: text(100),
  clientId: text(200),
  accountId: text(100),
  reason: text(100),
  limit: z.preprocess(blankIsAbsent, z.coerce.number().int().min(1).max(200).default(50)),
  cursor: text(100),
});
export type AuditFilter = z.infer<typeof auditFilterSchema>;

/** Every problem with the query, one `field: message` each, for a page or a 400. */
export function describeFilterIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`);
}
