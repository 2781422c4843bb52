import assert from 'node:assert/strict';
import { it } from 'node:test';
import { UPSTREAM_ERROR_CODES } from '../../src/upstreams/connector.ts';
import { BrokerError } from '../../src/errors.ts';
import { errorHandler } from '../../src/http/error-handler.ts';
import { createLogger } from '../../src/log.ts';

it('when any refusal or upstream error code reaches the error page, then it has its own plain words (locales/, checked in every language by messages.test.ts)', async () => {
  const codes: string[] = [
    ...UPSTREAM_ERROR_CODES,
    'login_expired', 'interaction_expired', 'state_mismatch', 'csrf', 'unknown_upstream',
    'account_disabled', 'signup_disabled', 'proof_mismatch', 'link_expired', 'identity_in_use', 'last_identity', 'email_not_verified',
  ];
  for (const code of codes) {
    let rendered: Record<string, unknown> = {};
    const handler = errorHandler((_ctx, _view, data) => { rendered = data; }, createLogger('silent'));
    await handler({ path: '/x' } as never, async () => { throw new BrokerError(code, 'x'); });
    assert.notEqual(rendered.message, 'error.internal', `no words for ${code}`);
    assert.equal(rendered.message, `error.${code}`);
  }
});

it('when an error page is shown, then the log line keeps its code (not redacted) and no secret', async () => {
  const lines: string[] = [];
  const handler = errorHandler(() => {}, createLogger('debug', (l) => lines.push(l)));
  await handler({ path: '/upstream/google/callback' } as never, async () => {
    throw new BrokerError('misconfigured', 'upstream google login failed', { cause: new Error('code exchange: invalid_client') });
  });
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(entry.errorCode, 'misconfigured');
  assert.equal(entry.path, '/upstream/google/callback');
});

it('when the database is down at a GET sent in absolute form, then "Try again" stays on Doorman (no open redirect)', async () => {
  // GET http://evil.example/upstream/google/callback?... HTTP/1.1 reaches the callback
  // route (Koa parses the path out of it) with originalUrl holding the foreign origin.
  let rendered: Record<string, unknown> = {};
  const handler = errorHandler((_ctx, _view, data) => { rendered = data; }, createLogger('silent'));
  const ctx = {
    method: 'GET', path: '/upstream/google/callback', search: '?code=c&state=s',
    originalUrl: 'http://evil.example/upstream/google/callback?code=c&state=s', url: 'http://evil.example/upstream/google/callback?code=c&state=s',
    set() {},
  };
  await handler(ctx as never, async () => { throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }); });
  assert.equal(rendered.code, 'temporarily_unavailable');
  assert.equal(rendered.retryUrl, '/upstream/google/callback?code=c&state=s');
});
