import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditRow } from '../../src/audit/repository.ts';
import { auditAsCsv, auditAsJson } from '../../src/console/audit-export.ts';

const row = (over: Partial<AuditRow>): AuditRow => ({
  id: 'e1', createdAt: new Date('2026-11-22T10:00:00Z'), type: 'login.refused', actor: null, accountId: null, provider: 'google', subject: 's1', clientId: null, detail: { reason: 'signup_disabled' }, ...over,
});

describe('audit export', () => {
  it('when a field holds commas, quotes or line breaks, then CSV quotes it (RFC 4180)', () => {
    const csv = auditAsCsv([row({ subject: 'a,"b"\nc' })]);
    const [header, line] = csv.split('\r\n');
    assert.equal(header, 'createdAt,type,actor,accountId,provider,subject,clientId,detail');
    assert.equal(line, '2026-11-22T10:00:00.000Z,login.refused,,,google,"a,""b""\nc",,"{""reason"":""signup_disabled""}"');
  });

  it('when an upstream sends a value a spreadsheet would run as a formula, then CSV defuses it', () => {
    for (const subject of ['=HYPERLINK("http://x")', '+1', '-2', '@SUM(A1)']) {
      const line = auditAsCsv([row({ subject })]).split('\r\n')[1]!;
      assert.ok(line.includes(`'${subject[0]}`), line);
    }
  });

  it('when exported as JSON, then every event keeps its fields with an ISO time', () => {
    assert.deepEqual(JSON.parse(auditAsJson([row({})])), [{ ...row({}), createdAt: '2026-11-22T10:00:00.000Z' }]);
  });
});
