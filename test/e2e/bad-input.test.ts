import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAdminRouter } from '../../src/admin/router.ts';
import { buildConfig } from '../../src/config/load.ts';
import { freePort } from '../../src/free-port.ts';
import type { Broker } from '../../src/interactions/broker.ts';
import { createInteractionRouter } from '../../src/interactions/router.ts';
import { createLogger } from '../../src/log.ts';
import { createAccountRouter } from '../../src/self-service/router.ts';
import { startDoorman, type RunningDoorman } from '../../src/server.ts';
import { ALICE, OUTSIDER } from '../fakes/fake-google.ts';
import { accountRowCount, assertErrorPage } from '../helpers/assertions.ts';
import { Browser, findForm } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Every route, attacked with a corpus of bad input, must answer below 500 and in its own
 * format: OAuth error JSON from oidc-provider's endpoints, a page for a person, the admin
 * API's error JSON. Each route is first given credentials that let the request get far
 * (a client's secret, an admin token, a signed-in session, a live interaction with its
 * CSRF token), then one slot at a time (a path segment, a parameter, the credential, the
 * whole body) is replaced with a bad value.
 */

type Format = 'oauth' | 'page' | 'admin' | 'unknown';
type Auth = 'client' | 'admin' | 'bearer' | 'person' | 'visitor';

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `[name]` segments are filled from the fixture and fuzzed one at a time. */
  path: string;
  format: Format;
  auth?: Auth;
  body?: 'form' | 'json';
  /** Query (GET) or body parameters with plausible values; each is fuzzed in turn. */
  params?: Record<string, string | boolean>;
}

interface Fixture {
  slots: Record<string, string>;
  params: Record<string, string>;
  headers: Record<Auth, Record<string, string>>;
}

const AUTH_PARAMS = {
  client_id: APP.clientId, redirect_uri: APP.redirectUri, response_type: 'code', scope: 'openid email', state: 'st-1', nonce: 'n-1',
  code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', prompt: 'login', max_age: '60',
  claims: '{"id_token":{"email":null}}', login_hint: 'alice', ui_locales: 'en', id_token_hint: '[idToken]',
};

const ROUTES: Route[] = [
  // oidc-provider (discovery lists these)
  { method: 'GET', path: '/auth', format: 'page', params: AUTH_PARAMS },
  { method: 'GET', path: '/auth/[uid]', format: 'page', auth: 'visitor' },
  { method: 'POST', path: '/request', format: 'oauth', auth: 'client', body: 'form', params: { client_id: APP.clientId, redirect_uri: APP.redirectUri, response_type: 'code', scope: 'openid', state: 's', code_challenge: AUTH_PARAMS.code_challenge, code_challenge_method: 'S256', claims: '{}' } },
  { method: 'POST', path: '/token', format: 'oauth', auth: 'client', body: 'form', params: { grant_type: 'authorization_code', code: 'c0de', redirect_uri: APP.redirectUri, code_verifier: 'v'.repeat(43) } },
  { method: 'POST', path: '/token', format: 'oauth', auth: 'client', body: 'form', params: { grant_type: 'refresh_token', refresh_token: '[refreshToken]', scope: 'openid' } },
  { method: 'POST', path: '/token', format: 'oauth', auth: 'client', body: 'form', params: { grant_type: 'client_credentials', scope: 'openid', resource: 'https://api.example.com' } },
  { method: 'GET', path: '/me', format: 'oauth', auth: 'bearer', params: { claims: '{"userinfo":{"email":null}}' } },
  { method: 'POST', path: '/me', format: 'oauth', body: 'form', params: { access_token: '[accessToken]' } },
  { method: 'POST', path: '/token/introspection', format: 'oauth', auth: 'client', body: 'form', params: { token: '[accessToken]', token_type_hint: 'access_token' } },
  { method: 'POST', path: '/token/revocation', format: 'oauth', auth: 'client', body: 'form', params: { token: 'not-a-live-token', token_type_hint: 'refresh_token' } },
  { method: 'GET', path: '/session/end', format: 'page', auth: 'person', params: { id_token_hint: '[idToken]', post_logout_redirect_uri: APP.postLogout, state: 's', client_id: APP.clientId, logout_hint: 'x', ui_locales: 'en' } },
  { method: 'POST', path: '/session/end/confirm', format: 'page', auth: 'person', body: 'form', params: { xsrf: 'not-the-xsrf', logout: 'yes' } },
  { method: 'GET', path: '/session/end/success', format: 'page', params: { client_id: APP.clientId } },
  { method: 'GET', path: '/jwks', format: 'oauth', params: { x: '1' } },
  { method: 'GET', path: '/.well-known/openid-configuration', format: 'oauth', params: { x: '1' } },
  { method: 'GET', path: '/.well-known/oauth-authorization-server', format: 'oauth' },
  // Doorman's pages (interactions/router.ts, self-service/router.ts)
  { method: 'GET', path: '/interaction/[uid]', format: 'page', auth: 'visitor' },
  { method: 'POST', path: '/interaction/[uid]/upstream/[connectorId]', format: 'page', auth: 'visitor', body: 'form', params: { csrf: '[visitorCsrf]' } },
  { method: 'GET', path: '/interaction/[uid]/upstream/[connectorId]', format: 'page', auth: 'visitor', params: { csrf: '[visitorCsrf]' } },
  { method: 'POST', path: '/interaction/[uid]/consent', format: 'page', auth: 'visitor', body: 'form', params: { csrf: '[visitorCsrf]' } },
  { method: 'POST', path: '/interaction/[uid]/abort', format: 'page', auth: 'visitor', body: 'form', params: { csrf: 'not-the-csrf' } },
  { method: 'GET', path: '/interaction/[uid]/link', format: 'page', auth: 'visitor' },
  { method: 'POST', path: '/interaction/[uid]/link/[connectorId]', format: 'page', auth: 'visitor', body: 'form', params: { csrf: '[visitorCsrf]' } },
  { method: 'GET', path: '/upstream/[connectorId]/callback', format: 'page', auth: 'visitor', params: { code: 'c', state: 's', iss: 'http://127.0.0.1', scope: 'openid', error: 'access_denied', error_description: 'no' } },
  { method: 'GET', path: '/account', format: 'page', auth: 'person', params: { notice: 'linked' } },
  { method: 'GET', path: '/account/callback', format: 'page', auth: 'person', params: { state: 's', error: 'access_denied' } },
  { method: 'POST', path: '/account/link/[otherConnectorId]', format: 'page', auth: 'person', body: 'form', params: { csrf: '[accountCsrf]' } },
  { method: 'POST', path: '/account/identities/[aliceIdentityId]/unlink', format: 'page', auth: 'person', body: 'form', params: { csrf: '[accountCsrf]' } },
  { method: 'POST', path: '/account/email', format: 'page', auth: 'person', body: 'form', params: { csrf: '[accountCsrf]', email: 'alice@example.com' } },
  { method: 'POST', path: '/account/apps/[clientId]/revoke', format: 'page', auth: 'person', body: 'form', params: { csrf: '[accountCsrf]' } },
  // the admin API (admin/router.ts)
  { method: 'GET', path: '/admin/api/accounts', format: 'admin', auth: 'admin', params: { q: 'eve', limit: '10', cursor: '[bobId]' } },
  { method: 'GET', path: '/admin/api/accounts/[bobId]', format: 'admin', auth: 'admin' },
  { method: 'POST', path: '/admin/api/accounts/[bobId]/identities', format: 'admin', auth: 'admin', body: 'json', params: { provider: 'github', subject: '4242', email: 'b@example.com' } },
  { method: 'DELETE', path: '/admin/api/accounts/[bobId]/identities/[unknownId]', format: 'admin', auth: 'admin' },
  { method: 'POST', path: '/admin/api/accounts/[bobId]/merge', format: 'admin', auth: 'admin', body: 'json', params: { from: '[unknownId]' } },
  { method: 'POST', path: '/admin/api/accounts/[unknownId]/disable', format: 'admin', auth: 'admin' },
  { method: 'POST', path: '/admin/api/accounts/[unknownId]/enable', format: 'admin', auth: 'admin' },
  { method: 'PUT', path: '/admin/api/accounts/[bobId]/admin', format: 'admin', auth: 'admin', body: 'json', params: { admin: false } },
  { method: 'PUT', path: '/admin/api/accounts/[bobId]/email', format: 'admin', auth: 'admin', body: 'json', params: { email: 'b@example.com' } },
  { method: 'DELETE', path: '/admin/api/accounts/[bobId]/consents/[clientId]', format: 'admin', auth: 'admin' },
  { method: 'GET', path: '/admin/api/audit', format: 'admin', auth: 'admin', params: { from: '2026-01-01T00:00:00Z', to: '2026-12-31T00:00:00Z', type: 'login', provider: 'google', clientId: APP.clientId, accountId: '[bobId]', reason: 'x', limit: '10', cursor: '[unknownId]' } },
  { method: 'GET', path: '/admin/api/upstreams', format: 'admin', auth: 'admin' },
  { method: 'GET', path: '/admin/api/openapi.yaml', format: 'admin', auth: 'admin' },
  { method: 'GET', path: '/admin/api/clients', format: 'admin', auth: 'admin' },
  { method: 'POST', path: '/admin/api/clients', format: 'admin', auth: 'admin', body: 'json', params: { clientId: 'fuzzed-app', name: 'Fuzzed', public: false, pkce: 'required' } },
  { method: 'GET', path: '/admin/api/clients/[clientId]', format: 'admin', auth: 'admin' },
  { method: 'PATCH', path: '/admin/api/clients/[clientId]', format: 'admin', auth: 'admin', body: 'json', params: { name: 'Renamed', firstParty: true } },
  { method: 'POST', path: '/admin/api/clients/[clientId]/secret', format: 'admin', auth: 'admin' },
  { method: 'DELETE', path: '/admin/api/clients/[clientId]', format: 'admin', auth: 'admin' },
  // nothing lives here
  { method: 'GET', path: '/[nothing]', format: 'unknown' },
  { method: 'POST', path: '/interaction/[uid]/[nothing]', format: 'page', auth: 'visitor', body: 'form' },
  { method: 'GET', path: '/account/[nothing]', format: 'page', auth: 'person' },
  { method: 'GET', path: '/admin/api/[nothing]', format: 'admin', auth: 'admin' },
];

/**
 * Values as they travel in a URL or a form body (percent-encoded where that is the attack).
 * Every slot gets the first two; the rest are dealt out in turn, one a slot, so each
 * value meets many routes while the total stays at a few hundred requests.
 */
const WIRE_VALUES: string[] = [
  '%00', '%ZZ',
  '%C0%AF', 'a%00b', 'A'.repeat(6000), 'abc%', '%C0', '%E0%80%AF', '%ED%A0%80', '%FF%FE', '..%2F..%2Fetc%2Fpasswd', '%F0%9D%95%8F%E2%80%AE',
  '0f0e0d0c-0000-4000-8000-000000000000',
];
/** The same attacks as JSON values, plus wrong types; every JSON field gets all of them. */
const JSON_VALUES: unknown[] = ['\u0000', 'a\u0000b', '\uD800', 'A'.repeat(20_000), 'A'.repeat(1000), '', 123, null, ['x'], {}];
/** Replacements for each kind of credential: the first always, the others in turn. */
const CREDENTIALS: Record<'basic' | 'bearer' | 'cookie', Record<string, string>[]> = {
  basic: [
    { authorization: 'Basic %ZZ' }, { authorization: `Basic ${Buffer.from('wi\u0000ki:x').toString('base64')}` },
    { authorization: `Basic ${Buffer.from('%ZZ:%C0').toString('base64')}` }, { authorization: `Basic ${'A'.repeat(6000)}` },
  ],
  bearer: [{ authorization: 'Bearer %00' }, { authorization: `Bearer ${'A'.repeat(6000)}` }, { authorization: 'Bearer a b' }, { authorization: 'Basic eDp5' }],
  cookie: [{ cookie: '_session=%00; _interaction=%ZZ; doorman.upstream=%C0%AF; doorman.upstream.sig=x' }, { cookie: `_session=${'A'.repeat(4000)}` }, { cookie: '' }],
};
const CREDENTIAL_KIND: Record<Auth, keyof typeof CREDENTIALS> = { client: 'basic', admin: 'bearer', bearer: 'bearer', person: 'cookie', visitor: 'cookie' };
/** Host headers that are not hosts; each route gets one, in turn. */
const HOSTS = ['%ZZ', 'a b', '[::1', 'x:99999'];
/** Whole bodies of the wrong shape, type or encoding; every route gets the first two, the rest in turn, one at a time. */
const BODIES: { name: string; type?: string; body: string | Uint8Array<ArrayBuffer> }[] = [
  { name: 'JSON null', type: 'application/json', body: 'null' },
  { name: 'invalid UTF-8 form', type: 'application/x-www-form-urlencoded', body: Uint8Array.from([0x61, 0x3d, 0xc0, 0xaf, 0xff, 0x00, 0x26, 0x62, 0x3d, 0x25]) },
  { name: 'duplicated and nested params', type: 'application/x-www-form-urlencoded', body: 'csrf=a&csrf=b&grant_type=a&grant_type=b&token[]=x&a[b][c]=d&__proto__[admin]=true' },
  { name: 'malformed JSON', type: 'application/json', body: '{"admin":' },
  { name: 'JSON number', type: 'application/json', body: '42' },
  { name: 'JSON array', type: 'application/json', body: '[{"from":"x"}]' },
  { name: 'JSON __proto__', type: 'application/json', body: '{"__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}}}' },
  { name: 'deeply nested JSON', type: 'application/json', body: `${'['.repeat(3000)}${']'.repeat(3000)}` },
  { name: 'form with a bogus charset', type: 'application/x-www-form-urlencoded; charset=bogus', body: 'a=b' },
  { name: 'form in UTF-16', type: 'application/x-www-form-urlencoded; charset=utf-16', body: 'a=b' },
  { name: 'text/plain', type: 'text/plain', body: 'hello' },
  { name: 'multipart', type: 'multipart/form-data; boundary=x', body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n' },
  { name: 'no content-type', body: 'a=b' },
];

/** 1 MB in the route's own content type (a form unless it takes JSON): over every body limit. */
function hugeBody(type: Route['body']): (typeof BODIES)[number] {
  return type === 'json'
    ? { name: '1 MB JSON', type: 'application/json', body: JSON.stringify({ a: 'A'.repeat(1 << 20) }) }
    : { name: '1 MB form', type: 'application/x-www-form-urlencoded', body: `a=${'A'.repeat(1 << 20)}` };
}

/** The first `core` values, then `extra` more taken in turn (a counter shared by all slots). */
function dealer<T>(values: T[], core: number, extra: number): () => T[] {
  let next = 0;
  return () => [...values.slice(0, core), ...Array.from({ length: extra }, () => values[core + (next++ % (values.length - core))]!)];
}

function fill(template: string, values: Record<string, string>, encode: boolean): string {
  return template.replace(/\[(\w+)\]/g, (_, name: string) => {
    const value = values[name];
    assert.ok(value !== undefined, `fixture has no ${name}`);
    return encode ? encodeURIComponent(value) : value;
  });
}

interface Attempt { label: string; route: Route; path: string; params: Record<string, string | boolean> | undefined; wire?: Record<string, string>; headers: Record<string, string>; body?: { type?: string; body: string | Uint8Array<ArrayBuffer> } }

/** Every attempt for every route, in a fixed order. */
function attempts(fx: Fixture): Attempt[] {
  const out: Attempt[] = [];
  const wireValues = dealer(WIRE_VALUES, 2, 1);
  const bodies = dealer(BODIES, 2, 1);
  const hosts = dealer(HOSTS, 0, 1);
  const credentials = { basic: dealer(CREDENTIALS.basic, 1, 1), bearer: dealer(CREDENTIALS.bearer, 1, 1), cookie: dealer(CREDENTIALS.cookie, 1, 1) };
  for (const route of ROUTES) {
    const headers = { ...(route.auth ? fx.headers[route.auth] : {}), accept: route.format === 'page' ? 'text/html' : 'application/json' };
    const params = route.params ? Object.fromEntries(Object.entries(route.params).map(([k, v]) => [k, typeof v === 'string' ? fill(v, { ...fx.slots, ...fx.params }, false) : v])) : undefined;
    const base = { route, path: fill(route.path, fx.slots, true), params, headers };
    const name = `${route.method} ${route.path}`;
    for (const slot of route.path.match(/\[\w+\]/g) ?? []) {
      for (const value of wireValues()) out.push({ ...base, label: `${name}: ${slot} = ${value.slice(0, 20)}`, path: fill(route.path.replace(slot, value), fx.slots, true) });
    }
    for (const key of Object.keys(params ?? {})) {
      if (route.body === 'json') {
        for (const value of JSON_VALUES) out.push({ ...base, label: `${name}: ${key} = ${JSON.stringify(value).slice(0, 20)}`, params: { ...params, [key]: value as string } });
      } else {
        for (const value of wireValues()) out.push({ ...base, label: `${name}: ${key} = ${value.slice(0, 20)}`, wire: { [key]: value } });
      }
    }
    if (params && route.body !== 'json') {
      // The same parameter twice (RFC 6749 §3.1: parameters must not be repeated), and array syntax.
      out.push({ ...base, label: `${name}: every parameter twice`, wire: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, `${encodeURIComponent(String(v))}&${k}=other`])) });
      out.push({ ...base, label: `${name}: array syntax`, wire: Object.fromEntries(Object.keys(params).map((k) => [`${k}[]`, 'x'])) });
    }
    if (route.auth) for (const h of credentials[CREDENTIAL_KIND[route.auth]]()) out.push({ ...base, label: `${name}: credential ${JSON.stringify(h).slice(0, 40)}`, headers: { ...base.headers, ...h } });
    for (const host of hosts()) out.push({ ...base, label: `${name}: Host ${host}`, headers: { ...base.headers, host } });
    if (route.method !== 'GET') {
      for (const b of [hugeBody(route.body), ...bodies()]) out.push({ ...base, label: `${name}: body ${b.name}`, body: b });
    }
  }
  return out;
}

interface Answer { status: number; type: string; text: string; headers: Headers }

async function send(origin: string, a: Attempt): Promise<Answer> {
  let query = '';
  let body: string | Uint8Array<ArrayBuffer> | undefined;
  const headers: Record<string, string> = { ...a.headers };
  if (a.body) {
    body = a.body.body;
    if (a.body.type) headers['content-type'] = a.body.type;
  } else if (a.params || a.wire) {
    const encoded = () => [
      ...Object.entries(a.params ?? {}).filter(([k]) => !a.wire || !(k in a.wire) && !(`${k}[]` in a.wire)).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`),
      ...Object.entries(a.wire ?? {}).map(([k, v]) => `${k}=${v}`),
    ].join('&');
    if (a.route.body === 'json') {
      body = JSON.stringify(a.params);
      headers['content-type'] = 'application/json';
    } else if (a.route.body === 'form') {
      body = encoded();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      query = `?${encoded()}`;
    }
  }
  if (headers.host) return sendWithHost(origin, a.route.method, `${a.path}${query}`, headers, body);
  const res = await fetch(`${origin}${a.path}${query}`, { method: a.route.method, headers, body, redirect: 'manual' });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), headers: res.headers };
}

/** fetch() always sends the URL's own Host; node:http sends the one given. */
function sendWithHost(origin: string, method: string, path: string, headers: Record<string, string>, body: string | Uint8Array | undefined): Promise<Answer> {
  const { hostname, port } = new URL(origin);
  return new Promise((ok, fail) => {
    const req = httpRequest({ hostname, port, method, path, headers: { ...headers, 'content-length': String(body ? Buffer.byteLength(body) : 0) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => ok({ status: res.statusCode!, type: res.headers['content-type'] ?? '', text: Buffer.concat(chunks).toString(), headers: new Headers(res.headers as Record<string, string>) }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** Below 500, and an error in the route's own format. */
function checkAnswer(a: Attempt, r: Answer): string | undefined {
  const what = `${a.label} -> ${r.status} ${r.type} ${r.text.slice(0, 160)}`;
  if (r.status >= 500) return what;
  if (r.status < 400) return undefined;
  const json = r.type.startsWith('application/json') ? JSON.parse(r.text) as { error?: unknown } : undefined;
  switch (a.route.format) {
    case 'oauth': return typeof json?.error === 'string' ? undefined : `not an OAuth error: ${what}`;
    case 'page': return r.type.startsWith('text/html') ? undefined : `not a page: ${what}`;
    case 'admin': return typeof json?.error === 'string' && r.headers.get('cache-control') === 'no-store' ? undefined : `not an admin API error: ${what}`;
    case 'unknown': return undefined;
  }
}

/** `GET /x/:id` and `GET /x/[id]` both become `GET /x/:`. */
const shape = (method: string, path: string) => `${method} ${path.replace(/\[\w+\]|:\w+/g, ':')}`;

describe('when every route is sent bad input', () => {
  let s: Scenario;
  let fx: Fixture;

  before(async () => {
    s = await startScenario({ with: ['github'], client: { firstParty: true, adminApi: true } });
    const rp = await discoverDoorman(s.doorman.url);
    const person = new Browser();
    const alice = await signInThrough(rp, person, 'google', ALICE.sub, {}, { scope: 'openid email admin offline_access', prompt: 'consent' });
    const aliceId = alice.tokens.claims()!.sub;
    await s.db.query('UPDATE "Account" SET admin = true WHERE id = $1', [aliceId]);
    const bobId = (await signInThrough(rp, new Browser(), 'google', OUTSIDER.sub)).tokens.claims()!.sub;
    const identity = async (accountId: string) => (await s.db.query<{ id: string }>('SELECT id FROM "Identity" WHERE "accountId" = $1', [accountId]))[0]!.id;
    const accountPage = await person.visit(`${s.doorman.url}/account`);
    const visitor = new Browser();
    const loginPage = await visitor.visit((await buildAuthRequest(rp)).url);
    const uid = loginPage.url.pathname.split('/')[2]!;
    const cookieOf = async (b: Browser, path: string) => ({ cookie: await b.jar.getCookieString(`${s.doorman.url}${path}`) });
    fx = {
      slots: {
        uid, connectorId: 'google', otherConnectorId: 'github', aliceIdentityId: await identity(aliceId), bobId,
        unknownId: '0f0e0d0c-0000-4000-8000-000000000000', nothing: 'nothing-here', clientId: APP.clientId,
      },
      params: {
        idToken: alice.tokens.id_token!, refreshToken: alice.tokens.refresh_token!, accessToken: alice.tokens.access_token,
        visitorCsrf: findForm(loginPage.body, '/upstream/google').fields.csrf!, accountCsrf: findForm(accountPage.body, '/account/link/github').fields.csrf!,
      },
      headers: {
        client: { authorization: `Basic ${Buffer.from(`${APP.clientId}:${APP.clientSecret}`).toString('base64')}` },
        admin: { authorization: `Bearer ${alice.tokens.access_token}` },
        bearer: { authorization: `Bearer ${alice.tokens.access_token}` },
        person: await cookieOf(person, '/account/'),
        visitor: await cookieOf(visitor, `/interaction/${uid}/`),
      },
    };
  });
  after(() => s.close());

  it('then the table covers every route of the routers and every endpoint discovery lists', async () => {
    // Building a router only registers its routes; nothing here runs a handler.
    const ours = [createInteractionRouter({ callbackPurposes: {} } as unknown as Broker), createAccountRouter({ callbackPurposes: {} } as unknown as Broker), createAdminRouter({ provider: {} as never, db: {} as never, log: createLogger('silent'), config: {} as never, clients: {} as never, connectors: new Map(), upstreamCallNotes: {} as never })]
      .flatMap((router) => router.stack.filter((layer) => !String(layer.path).endsWith('{*rest}')).flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => shape(m, String(layer.path)))));
    const discovery = await (await fetch(`${s.doorman.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    const endpoints = Object.entries(discovery).filter(([k, v]) => (k.endsWith('_endpoint') || k === 'jwks_uri') && typeof v === 'string').map(([, v]) => new URL(v as string).pathname);
    const table = new Set(ROUTES.map((r) => shape(r.method, r.path)));
    const tablePaths = new Set(ROUTES.map((r) => r.path));
    assert.deepEqual(ours.filter((r) => !table.has(r)), [], 'router routes missing from ROUTES');
    assert.deepEqual(endpoints.filter((p) => !tablePaths.has(p)), [], 'discovery endpoints missing from ROUTES');
  });

  it('then a NUL that reaches /auth inside a pushed request (not in any URL) is refused back to the app as invalid_request', async () => {
    const pushed = await fetch(`${s.doorman.url}/request`, {
      method: 'POST', headers: fx.headers.client,
      body: new URLSearchParams({ client_id: APP.clientId, redirect_uri: APP.redirectUri, response_type: 'code', scope: 'openid', state: 'a\0b', code_challenge: AUTH_PARAMS.code_challenge, code_challenge_method: 'S256' }),
    });
    assert.equal(pushed.status, 201);
    const { request_uri } = await pushed.json() as { request_uri: string };
    const res = await fetch(`${s.doorman.url}/auth?${new URLSearchParams({ client_id: APP.clientId, request_uri })}`, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(res.status, 303, await res.text());
    const back = new URL(res.headers.get('location')!, s.doorman.url);
    assert.equal(`${back.origin}${back.pathname}`, APP.redirectUri);
    assert.equal(back.searchParams.get('error'), 'invalid_request');
  });

  it('then an upstream profile holding NUL is the upstream\'s invalid_response (a page, 502), and nothing is written', async () => {
    s.google.users.push({ sub: '110169484474386277999', email: 'nul@example.com', email_verified: true, name: 'Nul\u0000Name' });
    const rows = await accountRowCount(s);
    const browser = new Browser();
    const page = await chooseUpstream(browser, await browser.visit((await buildAuthRequest(await discoverDoorman(s.doorman.url))).url), 'google', '110169484474386277999');
    assertErrorPage(page, 502, 'invalid_response');
    assert.equal(await accountRowCount(s), rows);
  });

  it('then a person gets a page saying what happened: 413 for a huge form, 404 for no page', async () => {
    const post = async (path: string, auth: Auth, type: string, body: string) => {
      const res = await fetch(`${s.doorman.url}${path}`, { method: 'POST', headers: { ...fx.headers[auth], 'content-type': type, accept: 'text/html' }, body, redirect: 'manual' });
      return { url: new URL(res.url), status: res.status, body: await res.text(), headers: res.headers };
    };
    const huge = `csrf=${'A'.repeat(1 << 20)}`;
    assertErrorPage(await post(`/interaction/${fx.slots.uid}/consent`, 'visitor', 'application/x-www-form-urlencoded', huge), 413, 'too_large');
    assertErrorPage(await post('/account/link/github', 'person', 'application/x-www-form-urlencoded', huge), 413, 'too_large');
    assertErrorPage(await post(`/interaction/${fx.slots.uid}/nothing`, 'visitor', 'application/x-www-form-urlencoded', 'csrf=x'), 404, 'not_found');
  });

  it('then the admin API says what is wrong with a bad body or id, as uncacheable JSON', async () => {
    const api = async (method: string, path: string, body?: string) => {
      const res = await fetch(`${s.doorman.url}/admin/api${path}`, { method, headers: { ...fx.headers.admin, 'content-type': 'application/json' }, body });
      assert.equal(res.headers.get('cache-control'), 'no-store', path);
      return [res.status, ...Object.values(await res.json() as object)] as [number, string, string];
    };
    const admin = `/accounts/${fx.slots.bobId}/admin`;
    assert.deepEqual(await api('PUT', admin, 'null'), [400, 'invalid_request', 'invalid JSON, only supports object and array']);
    assert.deepEqual(await api('PUT', admin, '42'), [400, 'invalid_request', 'invalid JSON, only supports object and array']);
    assert.equal((await api('PUT', admin, '{"admin":'))[0], 400);
    assert.deepEqual(await api('PUT', admin, '{"__proto__":{"admin":true}}'), [400, 'invalid_request', 'Object contains forbidden prototype property']);
    assert.deepEqual(await api('PUT', admin, JSON.stringify({ admin: 'A'.repeat(1 << 20) })), [413, 'request_too_large', 'request entity too large']);
    assert.deepEqual(await api('PUT', admin, '{"admin":"yes"}'), [400, 'invalid_request', 'admin: Invalid input: expected boolean, received string']);
    assert.deepEqual(await api('GET', '/accounts/not-an-id'), [400, 'invalid_request', 'id: Invalid UUID']);
    assert.deepEqual(await api('GET', '/accounts/a%00b'), [400, 'invalid_request', 'The address contains a NUL character.']);
    assert.deepEqual(await api('POST', `/accounts/${fx.slots.bobId}/identities`, JSON.stringify({ provider: 'github', subject: 'a\u0000b' })),
      [400, 'invalid_request', 'subject: must not contain NUL or unpaired surrogates']);
    assert.deepEqual(await api('GET', '/nothing/here'), [404, 'not_found', 'no such endpoint']);
  });

  it('then no answer is a 5xx, each is in its route\'s format, and the server still serves discovery', async () => {
    const all = attempts(fx);
    const failures: string[] = [];
    const queue = [...all];
    // A few at a time: parallel enough to be quick, few enough to keep the pool and order sane.
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let a = queue.shift(); a; a = queue.shift()) {
        try {
          const problem = checkAnswer(a, await send(s.doorman.url, a));
          if (problem) failures.push(problem);
        } catch (err) {
          failures.push(`${a.label} -> ${(err as Error).message} ${String((err as Error).cause ?? '')}`);
        }
      }
    }));
    assert.deepEqual(failures, [], `${failures.length} of ${all.length} requests failed`);
    const discovery = await fetch(`${s.doorman.url}/.well-known/openid-configuration`);
    assert.equal(discovery.status, 200);
    assert.equal((await discovery.json() as { issuer: string }).issuer, s.doorman.url);
  });
});

/** Sends bytes over a plain TCP connection and resolves to everything the server answered. */
async function sendRaw(port: number, bytes: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1'); });
  socket.on('error', () => {});
  socket.end(bytes);
  await once(socket, 'close');
  return answer;
}

describe('when a request is not even valid HTTP, or its headers make no URL', () => {
  let db: TestDatabase;
  let doorman: RunningDoorman;
  const logged: { level: string; msg: string; errorCode?: string }[] = [];
  const stderr: string[] = [];
  const realWrite = process.stderr.write.bind(process.stderr);

  before(async () => {
    db = await createTestDatabase();
    const port = await freePort();
    const config = buildConfig({ issuer: `http://127.0.0.1:${port}`, port, trustProxy: true }, { DATABASE_URL: db.url });
    doorman = await startDoorman(config, createLogger('debug', (line) => logged.push(JSON.parse(line) as never)), '127.0.0.1');
    process.stderr.write = ((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
  });
  after(async () => {
    process.stderr.write = realWrite;
    await doorman.close();
    await db.drop();
  });

  it('then Node\'s parser refusals are answered 400/431 and logged as JSON, with nothing else on stderr', async () => {
    const cases: [string, string][] = [
      ['GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
      ['\u0000\u0001GARBAGE\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
      ['POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HTTP/1.1 400 Bad Request'],
      [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 'HTTP/1.1 431 Request Header Fields Too Large'],
    ];
    for (const [bytes, status] of cases) {
      const before = logged.length;
      const answer = await sendRaw(doorman.port, bytes);
      assert.ok(answer.startsWith(`${status}\r\n`), `${JSON.stringify(bytes.slice(0, 40))} -> ${JSON.stringify(answer.slice(0, 80))}`);
      assert.ok(logged.slice(before).some((l) => l.level === 'warn' && l.msg === 'malformed request refused' && l.errorCode?.startsWith('HPE_')), JSON.stringify(logged.slice(before)));
    }
    assert.deepEqual(stderr, []);
    assert.equal((await fetch(`${doorman.url}/.well-known/openid-configuration`)).status, 200);
  });

  it('then forwarded headers that make no URL are refused with 400 (trustProxy on)', async () => {
    const cases: Record<string, string>[] = [{ 'x-forwarded-proto': '%ZZ' }, { 'x-forwarded-host': 'a b' }, { host: 'x:99999' }];
    for (const headers of cases) {
      for (const path of ['/.well-known/openid-configuration', '/session/end', '/account']) {
        const res = await sendWithHost(doorman.url, 'GET', path, headers, undefined);
        assert.equal(res.status, 400, `${path} ${JSON.stringify(headers)}`);
        assert.equal((JSON.parse(res.text) as { error: string }).error, 'invalid_request');
      }
    }
  });

  it('then an error that reaches Koa goes to the log, not to bare stderr', async () => {
    const before = logged.length;
    doorman.app.provider.emit('error', new Error('escaped every handler'), { path: '/somewhere' });
    assert.deepEqual(logged.slice(before).map((l) => [l.level, l.msg]), [['error', 'request failed']]);
    assert.deepEqual(stderr, []);
  });
});
