import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { startScenario, APP, type Scenario } from '../helpers/start-doorman.ts';

/** A raw GET, so the Host header can be any the client likes (fetch does not let it be set). */
function rawGet(origin: string, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    // `path` as given: an absolute-form target (`http://host/...`) is sent as is.
    const req = request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject).end();
  });
}

/** Discovery and JWKS are answered from kept JSON (src/oidc/document-cache.ts): the same answers as oidc-provider's own. */
describe('when clients read discovery and the JWKS again and again', () => {
  let s: Scenario;
  before(async () => {
    s = await startScenario();
  });
  after(() => s?.close());

  it('then every discovery answer is the same document, with oidc-provider\'s CORS headers and Doorman\'s security headers', async () => {
    const origin = s.doorman.url;
    const answers = await Promise.all([1, 2, 3].map(() => rawGet(origin, '/.well-known/openid-configuration', { host: new URL(origin).host })));
    const withOrigin = await rawGet(origin, '/.well-known/openid-configuration', { host: new URL(origin).host, origin: 'https://spa.example' });
    for (const a of [...answers, withOrigin]) {
      assert.equal(a.status, 200);
      assert.equal(a.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(a.headers['x-content-type-options'], 'nosniff');
      assert.match(String(a.headers.vary), /Origin/);
      assert.equal(a.body, answers[0]!.body);
    }
    assert.equal(answers[0]!.headers['access-control-allow-origin'], '*');
    assert.equal(withOrigin.headers['access-control-allow-origin'], 'https://spa.example', 'the caller\'s origin, as oidc-provider answers it');
    const doc = JSON.parse(answers[0]!.body) as Record<string, unknown>;
    assert.equal(doc.issuer, origin);
    assert.equal(doc.token_endpoint, `${origin}/token`);
    const head = await rawGet(origin, '/.well-known/openid-configuration', { host: new URL(origin).host }, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength(answers[0]!.body));
  });

  it('then a request naming another host gets that host\'s endpoint URLs, as from oidc-provider, and never another host\'s', async () => {
    const origin = s.doorman.url;
    const port = new URL(origin).port;
    const own = JSON.parse((await rawGet(origin, '/.well-known/openid-configuration', { host: `127.0.0.1:${port}` })).body) as Record<string, string>;
    const other = JSON.parse((await rawGet(origin, '/.well-known/openid-configuration', { host: `localhost:${port}` })).body) as Record<string, string>;
    assert.equal(own.authorization_endpoint, `http://127.0.0.1:${port}/auth`);
    assert.equal(other.authorization_endpoint, `http://localhost:${port}/auth`);
    assert.equal(other.issuer, own.issuer, 'the issuer is the configured one whatever the Host');
    // Many hosts: the kept ones stay right, and the others are still answered.
    for (let i = 0; i < 12; i++) {
      const doc = JSON.parse((await rawGet(origin, '/.well-known/openid-configuration', { host: `h${i}.example:${port}` })).body) as Record<string, string>;
      assert.equal(doc.authorization_endpoint, `http://h${i}.example:${port}/auth`);
    }
    const again = JSON.parse((await rawGet(origin, '/.well-known/openid-configuration', { host: `127.0.0.1:${port}` })).body) as Record<string, string>;
    assert.deepEqual(again, own);
    // The Origin header is not the host (Koa's ctx.origin is that header): no document is kept under it.
    const viaOrigin = JSON.parse((await rawGet(origin, '/.well-known/openid-configuration', { host: `other.example:${port}`, origin: `http://127.0.0.1:${port}` })).body) as Record<string, string>;
    assert.equal(viaOrigin.authorization_endpoint, `http://other.example:${port}/auth`);
    assert.deepEqual(JSON.parse((await rawGet(origin, '/.well-known/openid-configuration', { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).body), own);
    // An absolute-form request target names its own host (oidc-provider builds from it), and is never kept for others.
    const absolute = JSON.parse((await rawGet(origin, `http://absolute.example:${port}/.well-known/openid-configuration`, { host: `127.0.0.1:${port}` })).body) as Record<string, string>;
    assert.equal(absolute.authorization_endpoint, `http://absolute.example:${port}/auth`);
    assert.deepEqual(JSON.parse((await rawGet(origin, '/.well-known/openid-configuration', { host: `127.0.0.1:${port}` })).body), own);
  });

  it('then the JWKS is the same set each time, and a real client discovers and verifies with it', async () => {
    const origin = s.doorman.url;
    const [a, b] = await Promise.all([rawGet(origin, '/jwks', { host: new URL(origin).host }), rawGet(origin, '/jwks', { host: new URL(origin).host })]);
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'application/jwk-set+json; charset=utf-8');
    assert.equal(a.body, b.body);
    const keys = (JSON.parse(a.body) as { keys: Record<string, unknown>[] }).keys;
    assert.ok(keys.length >= 1 && keys.every((k) => k.d === undefined && k.p === undefined), 'only public parts are published');
    const config = await oidc.discovery(new URL(origin), APP.clientId, APP.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
    assert.equal(config.serverMetadata().jwks_uri, `${origin}/jwks`);
  });
});
