import assert from 'node:assert/strict';
import { it } from 'node:test';
import { buildConfig, ConfigError } from '../../src/config/load.ts';
import { isFailedClientAuth } from '../../src/rate-limits/claimed-client-auth.ts';
import { hashClientSecret, isClientSecretValid } from '../../src/clients/secret.ts';
import { ipKey } from '../../src/rate-limits/client-ip.ts';

it('when an address is counted, then IPv4 counts alone and IPv6 per /64', () => {
  const cases: [string, string][] = [
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:DB8::2', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['not an address', 'not an address'],
    // Forms a proxy may write into X-Forwarded-For: each must land on the same key, not a fresh one.
    ['203.0.113.7:51234', '203.0.113.7'],
    ['[2001:db8::1]:443', '2001:db8:0:0::/64'],
    ['[2001:db8::1]', '2001:db8:0:0::/64'],
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['::FFFF:CB00:7108', '203.0.113.8'],
  ];
  for (const [ip, key] of cases) assert.equal(ipKey(ip), key, ip);
});

it('when a limit or the Redis URL is wrong, then the config error names the key', () => {
  const problems = (raw: unknown, env: Record<string, string> = {}) => {
    try {
      buildConfig(raw, env);
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };
  assert.deepEqual(problems({ rateLimits: { loginStartsPerIp: { points: 0 } } }).map((p) => p.split(':')[0]), ['rateLimits.loginStartsPerIp.points']);
  assert.match(problems({ rateLimits: { redisUrl: 'http://cache:6379' } })[0]!, /^rateLimits\.redisUrl: must be a redis/);
  assert.match(problems({}, { DOORMAN_REDIS_URL: 'cache:6379' })[0]!, /^DOORMAN_REDIS_URL: must be a redis/);
  assert.equal(buildConfig({}, { DOORMAN_REDIS_URL: 'redis://:pw@cache:6379' }).rateLimits.redisUrl, 'redis://:pw@cache:6379');
  assert.equal(buildConfig({}, {}).rateLimits.clientAuthFailuresPerIp.points, 10);
});

it('when a client authentication is judged before oidc-provider answers, then only sure failures count first', async () => {
  // Clients compare as oidc-provider's do: config clients in clear, runtime apps against their stored hash.
  type Judged = { clientAuthMethod: string; compareClientSecret(secret: string): boolean };
  const inClear = (clientAuthMethod: string, stored: string): Judged => ({ clientAuthMethod, compareClientSecret: (secret) => secret === stored });
  const confidential = inClear('client_secret_basic', 's3cret');
  const publicClient = inClear('none', '');
  const runtimeApp: Judged = { clientAuthMethod: 'client_secret_basic', compareClientSecret: (secret) => isClientSecretValid(secret, hashClientSecret('runtime-s3cret')) };
  const cases: [string, { clientId?: string; secret?: string }, Judged | undefined, boolean][] = [
    ['right secret', { clientId: 'app', secret: 's3cret' }, confidential, false],
    ['wrong secret', { clientId: 'app', secret: 's3cret!' }, confidential, true],
    ['no secret for a confidential client', { clientId: 'app' }, confidential, true],
    ['unknown client', { clientId: 'nobody', secret: 'x' }, undefined, true],
    ['public client without secret', { clientId: 'spa' }, publicClient, false],
    ['public client with a secret', { clientId: 'spa', secret: 'x' }, publicClient, true],
    ['no client_id (invalid_request, not a failure)', {}, undefined, false],
    ['a method it cannot judge', { clientId: 'app' }, inClear('private_key_jwt', 's3cret'), false],
    ['a runtime app without a secret', { clientId: 'rt' }, runtimeApp, true],
    ['a runtime app\'s right secret', { clientId: 'rt', secret: 'runtime-s3cret' }, runtimeApp, false],
    ['a runtime app\'s stored hash presented as its secret', { clientId: 'rt', secret: hashClientSecret('runtime-s3cret') }, runtimeApp, true],
  ];
  for (const [name, claim, client, failed] of cases) {
    assert.equal(await isFailedClientAuth({ clientId: claim.clientId, secret: claim.secret }, client), failed, name);
  }
});
