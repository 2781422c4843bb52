import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Prisma } from '../../src/generated/prisma/client.ts';
import { buildConfig, ConfigError } from '../../src/config/load.ts';
import { BrokerError } from '../../src/errors.ts';
import { upstreamFailure } from '../../src/interactions/broker.ts';
import { createLogger, logContext } from '../../src/log.ts';
import { loginFailureOf } from '../../src/metrics/login-outcome.ts';
import { UpstreamError, type UpstreamErrorCode } from '../../src/upstreams/connector.ts';

it('when an upstream callback fails, then its metric outcome says who said no or what broke', () => {
  const upstream = (code: UpstreamErrorCode) => upstreamFailure(new UpstreamError('google', code, 'x'), 'callback', undefined);
  const cases: [unknown, { outcome: string; reason: string }][] = [
    [upstream('denied'), { outcome: 'cancelled', reason: '' }],
    [upstream('domain_not_allowed'), { outcome: 'refused', reason: 'domain_not_allowed' }],
    [upstream('org_not_allowed'), { outcome: 'refused', reason: 'org_not_allowed' }],
    [upstream('timeout'), { outcome: 'upstream_error', reason: 'timeout' }],
    [upstream('unavailable'), { outcome: 'upstream_error', reason: 'unavailable' }],
    [upstream('expired'), { outcome: 'upstream_error', reason: 'expired' }],
    [new BrokerError('signup_disabled', 'x', { status: 403 }), { outcome: 'refused', reason: 'signup_disabled' }],
    [new BrokerError('account_disabled', 'x', { status: 403 }), { outcome: 'refused', reason: 'account_disabled' }],
    [new BrokerError('state_mismatch', 'x', { status: 400 }), { outcome: 'failed', reason: 'state_mismatch' }],
    [new BrokerError('login_expired', 'x', { status: 400 }), { outcome: 'failed', reason: 'login_expired' }],
    [new Prisma.PrismaClientKnownRequestError('x', { code: 'P1001', clientVersion: '7' }), { outcome: 'error', reason: 'database_unavailable' }],
    [new TypeError('bug'), { outcome: 'error', reason: 'internal' }],
  ];
  for (const [err, expected] of cases) assert.deepEqual(loginFailureOf(err), expected, String(err));
});

it('when metrics.port is the main port, then the config names the key', () => {
  assert.throws(() => buildConfig({ port: 3000, metrics: { port: 3000 } }, {}), (err: ConfigError) => err.problems.some((p) => p.startsWith('metrics.port:')));
  assert.equal(buildConfig({ port: 3000, metrics: { port: 9464 } }, {}).metrics.port, 9464);
});

it('when a line is logged while serving a request, then it carries the request id and still hides credentials', () => {
  const lines: string[] = [];
  const log = createLogger('info', (l) => lines.push(l));
  logContext.run({ requestId: 'req-1' }, () => log.info('x', { headers: { Authorization: 'Bearer abc', cookie: '_session=s' }, deep: { a: { b: { c: { id_token: 'eyJ' } } } } }));
  log.info('outside');
  const [inside, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(inside!.requestId, 'req-1');
  assert.equal(outside!.requestId, undefined);
  for (const leak of ['Bearer abc', '_session', 'eyJ']) assert.ok(!lines[0]!.includes(leak), `${leak} leaked: ${lines[0]}`);
});
