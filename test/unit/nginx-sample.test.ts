import assert from 'node:assert/strict';
import { it } from 'node:test';
import { loopbackConfig, readmeNginxSample } from '../scaleout/nginx.ts';

it('when the README\'s nginx sample changes, then it is still the one the scale-out test can run', () => {
  const config = loopbackConfig(readmeNginxSample(), 8080, [3001, 3002, 3003]);
  assert.match(config, /listen 127\.0\.0\.1:8080;/);
  assert.deepEqual([...config.matchAll(/server (127\.0\.0\.1:\d+)/g)].map((m) => m[1]), ['127.0.0.1:3001', '127.0.0.1:3002', '127.0.0.1:3003']);
  const directives = config.replace(/#[^\n]*/g, '');
  assert.doesNotMatch(directives, /ssl|ip_hash|sticky|hash \$/, 'no TLS left, and no sticky balancing: any process serves any request');
  assert.match(config, /proxy_set_header Host \$http_host;/);
  assert.match(config, /proxy_set_header X-Forwarded-Host \$http_host;/, 'a client must not choose the host Doorman builds URLs from');
});
