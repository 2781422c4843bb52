import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { freePort } from '../../src/free-port.ts';
import { cacheProviderDocuments } from '../../src/oidc/document-cache.ts';

/**
 * The cache in front of a real oidc-provider, with a counter between them: what reaches
 * oidc-provider's own routes is what the cache did not answer. One provider per test.
 */
async function startProvider() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const keys = { published: { keys: [{ ...(await exportJWK(privateKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] } as { keys: unknown[] } };
  const port = await freePort();
  const provider = new Provider(`http://127.0.0.1:${port}`, { jwks: keys.published as never, features: { devInteractions: { enabled: false } } });
  provider.use(cacheProviderDocuments(provider, () => keys.published));
  const reached: string[] = [];
  provider.use((ctx, next) => {
    reached.push(ctx.path);
    return next();
  });
  const server = provider.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const get = (path: string, host = `127.0.0.1:${port}`, method = 'GET') => new Promise<{ status: number; body: string }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, method, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject).end();
  });
  return { port, keys, reached, get, close: () => server.close() };
}

it('when both discovery documents and the JWKS are asked for again and again, then oidc-provider builds each once and the answers stay the same', async () => {
  const p = await startProvider();
  try {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks']) {
      const bodies = [];
      for (let i = 0; i < 5; i++) {
        const res = await p.get(path);
        assert.equal(res.status, 200);
        bodies.push(res.body);
      }
      assert.equal(new Set(bodies).size, 1, path);
      assert.deepEqual(p.reached.filter((x) => x === path), [path], `${path} reached oidc-provider once`);
    }
  } finally {
    p.close();
  }
});

it('when the published key set changes, then the next JWKS request goes to oidc-provider again', async () => {
  const p = await startProvider();
  try {
    await p.get('/jwks');
    p.keys.published = { keys: [...p.keys.published.keys] }; // what the key ring does: a new object when keys change
    await p.get('/jwks');
    await p.get('/jwks');
    assert.equal(p.reached.filter((x) => x === '/jwks').length, 2, 'built for each key set, then kept');
  } finally {
    p.close();
  }
});

it('when another route, a POST or an error answer comes, then it is not kept', async () => {
  const p = await startProvider();
  try {
    for (let i = 0; i < 2; i++) {
      await p.get('/.well-known/openid-configuration', undefined, 'POST');
      await p.get('/me');
    }
    assert.equal(p.reached.length, 4);
  } finally {
    p.close();
  }
});

it('when junk Host headers come first, then the issuer\'s own discovery document is still kept, and other hosts are served uncached', async () => {
  const p = await startProvider();
  try {
    for (let i = 0; i < 40; i++) await p.get('/.well-known/openid-configuration', `junk${i}.example:${p.port}`);
    p.reached.length = 0;
    for (let i = 0; i < 3; i++) await p.get('/.well-known/openid-configuration');
    assert.equal(p.reached.length, 1, 'the issuer\'s: built once, then kept');
    for (let i = 0; i < 2; i++) {
      const res = await p.get('/.well-known/openid-configuration', `junk99.example:${p.port}`);
      assert.match(res.body, new RegExp(`http://junk99\\.example:${p.port}/auth`));
    }
    assert.equal(p.reached.length, 3, 'a host past the bound: served, not kept');
  } finally {
    p.close();
  }
});
