import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isDatabaseUnavailable } from '../../src/db/outage.ts';
import { BrokerError } from '../../src/errors.ts';
import { UpstreamError } from '../../src/upstreams/connector.ts';

/** Shapes recorded from Prisma 7 + @prisma/adapter-pg, node-postgres and oidc-provider with PostgreSQL stopped. */
const unavailable: [string, unknown][] = [
  ['Prisma P1001 (model query)', { name: 'PrismaClientKnownRequestError', code: 'P1001', meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5 } } } }],
  ['Prisma P2010 (raw query) with the adapter kind only', { name: 'PrismaClientKnownRequestError', code: 'P2010', meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'ConnectionClosed' } } } }],
  ['pool timeout (P2024)', { code: 'P2024' }],
  ['server shutting down (57P01) through the adapter', { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'postgres', code: '57P01' } } } }],
  ['a pg error of class 08', Object.assign(new Error('connection failure'), { code: '08006', severity: 'FATAL' })],
  ['ECONNREFUSED two causes deep', new Error('outer', { cause: new Error('inner', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }) })],
  ['pg\'s "Connection terminated unexpectedly"', new Error('Connection terminated unexpectedly')],
];
const notUnavailable: [string, unknown][] = [
  ['a unique violation', { code: 'P2002', meta: { driverAdapterError: { cause: { kind: 'UniqueConstraintViolation' } } } }],
  ['a syntax error from Postgres', Object.assign(new Error('syntax error'), { code: '42601', severity: 'ERROR' })],
  ['oidc-provider\'s SessionNotFound', Object.assign(new Error('interaction session not found'), { name: 'SessionNotFound' })],
  ['nothing', undefined],
  // An upstream refusing connections: the upstream's outage (502 page), not "temporarily unavailable".
  ['an upstream that refused the connection, wrapped in a page error', new BrokerError('unavailable', 'upstream oidc: start failed', {
    status: 502, cause: new UpstreamError('oidc', 'unavailable', 'discovery: fetch failed', { cause: new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) }) }),
  })],
];

for (const [label, err] of unavailable) {
  it(`when the error is ${label}, then it is a database outage`, () => assert.equal(isDatabaseUnavailable(err), true));
}
for (const [label, err] of notUnavailable) {
  it(`when the error is ${label}, then it is not a database outage`, () => assert.equal(isDatabaseUnavailable(err), false));
}
