import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { cacheProviderDocuments } from '../../src/oidc/document-cache.ts';

/**
 * The cache in front of a real oidc-provider, with a counter between them: what reaches
 * oidc-provider's own routes is what the cache did not answer.
 */
let provider: Provider;
let origin: string;
let server: ReturnType<Provider['listen']>;
const reached: string[] = [];
let published: { keys: unknown[] };

before(async () => {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  published = { keys: [{ ...(await exportJWK(privateKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] };
  provider = new Provider('http://127.0.0.1', { jwks: published as never, features: { devInteractions: { enabled: false } } });
  provider.use(cacheProviderDocuments(provider, () => published));
  provider.use((ctx, next) => {
    reached.push(ctx.path);
    return next();
  });
  server = provider.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server?.close());

it('when both discovery documents and the JWKS are asked for again and again, then oidc-provider builds each once and the answers stay the same', async () => {
  reached.length = 0;
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks']) {
    const bodies = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${origin}${path}`);
      assert.equal(res.status, 200);
      bodies.push(await res.text());
    }
    assert.equal(new Set(bodies).size, 1, path);
    assert.deepEqual(reached.filter((p) => p === path), [path], `${path} reached oidc-provider once`);
  }
});

it('when the published key set changes, then the next JWKS request goes to oidc-provider again', async () => {
  reached.length = 0;
  await (await fetch(`${origin}/jwks`)).text();
  published = { keys: [...published.keys] }; // what the key ring does: a new object when keys change
  await (await fetch(`${origin}/jwks`)).text();
  await (await fetch(`${origin}/jwks`)).text();
  assert.equal(reached.filter((p) => p === '/jwks').length, 1, 'rebuilt once for the new set, then kept');
});

it('when another route, a POST or an error answer comes, then it is not kept', async () => {
  reached.length = 0;
  for (let i = 0; i < 2; i++) {
    await (await fetch(`${origin}/.well-known/openid-configuration`, { method: 'POST' })).text();
    await (await fetch(`${origin}/me`)).text();
  }
  assert.equal(reached.length, 4);
});
