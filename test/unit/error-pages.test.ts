import assert from 'node:assert/strict';
import { it } from 'node:test';
import { UPSTREAM_ERROR_CODES } from '../../src/upstreams/connector.ts';
import { BrokerError } from '../../src/errors.ts';
import { errorHandler } from '../../src/http/error-handler.ts';
import { createLogger } from '../../src/log.ts';

it('when any refusal or upstream error code reaches the error page, then it has its own plain words', async () => {
  const codes: string[] = [
    ...UPSTREAM_ERROR_CODES,
    'login_expired', 'interaction_expired', 'state_mismatch', 'csrf', 'unknown_upstream',
    'account_disabled', 'signup_disabled', 'proof_mismatch', 'link_expired', 'identity_in_use', 'last_identity',
  ];
  for (const code of codes) {
    let rendered: Record<string, unknown> = {};
    const handler = errorHandler((_ctx, _view, data) => { rendered = data; }, createLogger('silent'));
    await handler({ path: '/x' } as never, async () => { throw new BrokerError(code, 'x'); });
    assert.notEqual(rendered.title, 'Something went wrong', `no words for ${code}`);
  }
});
