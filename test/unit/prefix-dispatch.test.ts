import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Koa, { type Middleware } from 'koa';
import { byPathPrefix } from '../../src/http/prefix-dispatch.ts';
import { securityHeaders } from '../../src/http/security-headers.ts';

describe('routers mounted by path prefix, in front of the provider', () => {
  const app = new Koa();
  app.silent = true; // the next-twice case is expected to fail
  let base = '';
  let server: ReturnType<typeof app.listen>;
  before(async () => {
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  app.use(securityHeaders);
  const a: Middleware = async (ctx, next) => { ctx.state.seen = [...(ctx.state.seen ?? []), 'a']; await next(); ctx.set('X-After-A', 'yes'); };
  const b: Middleware = (ctx, next) => { ctx.state.seen = [...(ctx.state.seen ?? []), 'b']; return next(); };
  const page: Middleware = (ctx) => { ctx.type = 'text/html; charset=utf-8'; ctx.body = '<p>page</p>'; };
  app.use(byPathPrefix([
    [['/a/', '/both/'], a],
    [['/b/', '/both/'], b],
    [['/page/'], page],
    [['/twice/'], async (_ctx, next) => { await next(); await next(); }],
  ]));
  app.use((ctx) => {
    if (ctx.path === '/twice/') return;
    ctx.body = { provider: true, seen: ctx.state.seen ?? [] };
  });

  it('when the path starts with no prefix, then no mounted middleware runs and the request reaches the provider', async () => {
    const res = await fetch(`${base}/jwks`);
    assert.deepEqual(await res.json(), { provider: true, seen: [] });
    assert.equal(res.headers.get('x-after-a'), null);
  });
  it('when it starts with several, then each runs once, in mounting order, around what follows', async () => {
    const res = await fetch(`${base}/both/x`);
    assert.deepEqual(await res.json(), { provider: true, seen: ['a', 'b'] });
    assert.equal(res.headers.get('x-after-a'), 'yes');
    assert.deepEqual(await (await fetch(`${base}/b/x`)).json(), { provider: true, seen: ['b'] });
  });
  it('when a middleware calls next twice, then the request fails as with Koa', async () => {
    assert.equal((await fetch(`${base}/twice/`)).status, 500);
  });
  it('when the answer is a page, then it gets the page headers, and JSON only the common ones', async () => {
    const page = await fetch(`${base}/page/`);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    const json = await fetch(`${base}/jwks`);
    assert.equal(json.headers.get('content-security-policy'), null);
    assert.equal(json.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(json.headers.get('referrer-policy'), 'no-referrer');
  });
});
