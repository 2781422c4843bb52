import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCsrf } from '../../src/http/csrf.ts';
import { createLogger, redact } from '../../src/log.ts';

describe('CSRF tokens', () => {
  const csrf = createCsrf(['new-secret', 'old-secret']);
  it('when the token was made for this interaction, then it is valid', () => {
    assert.equal(csrf.isValid('uid-1', csrf.tokenFor('uid-1')), true);
  });
  it('when it was made for another interaction, is missing or forged, then it is not', () => {
    assert.equal(csrf.isValid('uid-2', csrf.tokenFor('uid-1')), false);
    assert.equal(csrf.isValid('uid-1', undefined), false);
    assert.equal(csrf.isValid('uid-1', ''), false);
    assert.equal(csrf.isValid('uid-1', 'x'.repeat(43)), false);
  });
  it('when the secret was rotated, then a token signed with the previous one still validates', () => {
    assert.equal(csrf.isValid('uid-1', createCsrf(['old-secret']).tokenFor('uid-1')), true);
    assert.equal(csrf.isValid('uid-1', createCsrf(['retired']).tokenFor('uid-1')), false);
  });
});

describe('log redaction', () => {
  it('when fields carry credentials at any depth, then they are replaced', () => {
    const lines: string[] = [];
    const log = createLogger('debug', (l) => lines.push(l));
    log.info('x', { code: '4/abc', client_secret: 's', nested: { refresh_token: 'r', cookie: 'c', ok: 'visible' }, list: [{ access_token: 'a' }] });
    const text = lines.join('\n');
    for (const secret of ['4/abc', '"s"', '"r"', '"c"', '"a"']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    assert.match(text, /visible/);
  });
  it('when an Error is logged, then only its name and message are kept', () => {
    assert.deepEqual(redact({ error: new TypeError('boom') }), { error: { name: 'TypeError', message: 'boom' } });
  });
  it('when the level is above the message, then nothing is written', () => {
    const lines: string[] = [];
    createLogger('warn', (l) => lines.push(l)).info('hidden');
    assert.deepEqual(lines, []);
  });
});
