import type { AuditRow } from '../audit/repository.ts';

/** The audit export's two formats: one row (or object) per event, detail as JSON text in CSV. */

const COLUMNS = ['createdAt', 'type', 'actor', 'accountId', 'provider', 'subject', 'clientId', 'detail'] as const;

export function auditAsCsv(events: readonly AuditRow[]): string {
  const lines = [COLUMNS.join(',')];
  for (const e of events) {
    lines.push(COLUMNS.map((c) => csvField(c === 'createdAt' ? e.createdAt.toISOString() : c === 'detail' ? JSON.stringify(e.detail) : e[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function auditAsJson(events: readonly AuditRow[]): string {
  return JSON.stringify(events.map((e) => ({ ...e, createdAt: e.createdAt.toISOString() })), null, 2);
}

/**
 * RFC 4180 quoting; a field that a spreadsheet would run as a formula (=, +, -, @, tab, CR)
 * gets a leading apostrophe, since subjects and emails come from upstreams (OWASP CSV injection).
 */
function csvField(value: string | null): string {
  if (value === null) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
