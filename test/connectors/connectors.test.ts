import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { buildConfig, type UpstreamSettings } from '../../src/config/load.ts';
import type { FacebookLookalike } from '../../src/demo/facebook-lookalike.ts';
import type { GithubLookalike } from '../../src/demo/github-lookalike.ts';
import type { GoogleLookalike } from '../../src/demo/google-lookalike.ts';
import { listenOnLoopback } from '../../src/demo/lookalike-http.ts';
import { UpstreamError, type UpstreamConnector } from '../../src/upstreams/connector.ts';
import { openConnectors } from '../../src/upstreams/registry.ts';
import { MAX_UPSTREAM_BODY_BYTES } from '../../src/upstreams/transport.ts';
import { Browser } from '../helpers/browser.ts';
import { GOOGLE_CLIENT, startFakeGoogle } from '../fakes/fake-google.ts';
import { FACEBOOK_APP, FB_MARK, GITHUB_CLIENT, OAUTH2_CLIENT, OCTOCAT, startFakeFacebook, startFakeGithub } from '../fakes/fake-upstreams.ts';

/**
 * Each connector against its fake on loopback, without the broker: the quirks that
 * matter, as a table of inputs and the identity or error code expected.
 */
const ISSUER = 'http://127.0.0.1:5998';
const REDIRECT = (id: string) => new URL(`${ISSUER}/upstream/${id}/callback`);

function connectorFor(upstream: Record<string, unknown>, env: Record<string, string>): UpstreamConnector {
  const config = buildConfig({ issuer: ISSUER, upstreams: [upstream] }, env);
  return openConnectors(config.upstreams as UpstreamSettings[]).get(String(upstream.id))!;
}

/** Runs the upstream's page as a person would, and returns the callback URL it sends back. */
async function callbackFrom(connector: UpstreamConnector, form: { action: string; fields: Record<string, string> }) {
  const { url, transaction } = await connector.startLogin({ redirectUri: REDIRECT(connector.id), state: 'state-123' });
  const browser = new Browser();
  const page = await browser.visit(url);
  const back = await browser.submit(page, form.action, form.fields, `${ISSUER}/upstream/`);
  return { callbackUrl: back.url, redirectUri: REDIRECT(connector.id), transaction };
}

async function expectUpstreamError(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof UpstreamError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('GitHub connector', () => {
  let github: GithubLookalike;
  let connector: UpstreamConnector;
  before(async () => {
    github = await startFakeGithub(ISSUER);
    connector = connectorFor({ id: 'github', type: 'github', clientId: GITHUB_CLIENT.clientId, clientSecretEnv: 'S', baseUrl: github.baseUrl }, { S: GITHUB_CLIENT.clientSecret });
  });
  after(() => github.close());

  it('when the authorization URL is built, then it carries state, PKCE S256 and the email scope', async () => {
    const { url } = await connector.startLogin({ redirectUri: REDIRECT('github'), state: 'abc' });
    assert.equal(url.origin + url.pathname, `${github.baseUrl}/login/oauth/authorize`);
    assert.equal(url.searchParams.get('state'), 'abc');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.match(url.searchParams.get('scope')!, /user:email/);
  });

  it('when a code is replayed, then GitHub\'s HTTP-200 bad_verification_code becomes "expired"', async () => {
    const cb = await callbackFrom(connector, { action: '/login/oauth/authorize', fields: { login: OCTOCAT.login } });
    const { identity } = await connector.finishLogin(cb);
    assert.equal(identity.subject, String(OCTOCAT.id));
    await expectUpstreamError(connector.finishLogin(cb), 'expired');
  });

  it('when the PKCE verifier does not match, then the exchange is refused', async () => {
    const cb = await callbackFrom(connector, { action: '/login/oauth/authorize', fields: { login: OCTOCAT.login } });
    await expectUpstreamError(connector.finishLogin({ ...cb, transaction: { codeVerifier: 'x'.repeat(43) } }), 'expired');
  });

  it('when GitHub redirects back with redirect_uri_mismatch, then it is a misconfiguration', async () => {
    const { url, transaction } = await connector.startLogin({ redirectUri: new URL(`${ISSUER}/elsewhere`), state: 's' });
    const back = await new Browser().visit(url, `${ISSUER}/upstream/`);
    assert.equal(back.url.searchParams.get('error'), 'redirect_uri_mismatch');
    await expectUpstreamError(connector.finishLogin({ callbackUrl: back.url, redirectUri: REDIRECT('github'), transaction }), 'misconfigured');
  });
});

describe('GitHub API answers that Doorman does not read on', () => {
  const TIMEOUT_MS = 1000;
  let github: GithubLookalike;
  let connector: UpstreamConnector;
  before(async () => {
    github = await startFakeGithub(ISSUER);
    connector = connectorFor({ id: 'github', type: 'github', clientId: GITHUB_CLIENT.clientId, clientSecretEnv: 'S', baseUrl: github.baseUrl, timeoutMs: TIMEOUT_MS }, { S: GITHUB_CLIENT.clientSecret });
  });
  after(() => github.close());
  const finish = async () => connector.finishLogin(await callbackFrom(connector, { action: '/login/oauth/authorize', fields: { login: OCTOCAT.login } }));

  it('when /user sends a body that never stops coming, then reading stops at the bound: "invalid_response" naming it, not a timeout', async () => {
    github.faults['/api/v3/user'] = { kind: 'endless-body' };
    try {
      const started = Date.now();
      await assert.rejects(finish(), (err: unknown) => {
        assert.ok(err instanceof UpstreamError, String(err));
        assert.equal(err.code, 'invalid_response', err.message);
        assert.match(err.message, new RegExp(`GET /api/v3/user: answer larger than ${MAX_UPSTREAM_BODY_BYTES} bytes`));
        return true;
      });
      assert.ok(Date.now() - started < TIMEOUT_MS, 'stopped before the deadline');
    } finally {
      github.faults = {};
    }
  });

  it('when /user sends its headers and then stalls, then it is a "timeout" within timeoutMs', async () => {
    github.faults['/api/v3/user'] = { kind: 'stall-body' };
    try {
      const started = Date.now();
      await expectUpstreamError(finish(), 'timeout');
      assert.ok(Date.now() - started < TIMEOUT_MS + 1000, `took ${Date.now() - started} ms`);
    } finally {
      github.faults = {};
    }
  });

  it('when /user redirects, then the redirect is not followed (the bearer token stays here): "invalid_response" naming where it led', async () => {
    let followed = false;
    const elsewhere = createServer((_req, res) => { followed = true; res.end('{}'); });
    const { origin, close } = await listenOnLoopback(elsewhere);
    github.faults['/api/v3/user'] = { kind: 'redirect', location: `${origin}/user` };
    try {
      await assert.rejects(finish(), (err: unknown) => {
        assert.ok(err instanceof UpstreamError, String(err));
        assert.equal(err.code, 'invalid_response', err.message);
        assert.match(err.message, new RegExp(`HTTP 302 redirect to ${origin}/user; Doorman does not follow redirects`));
        return true;
      });
      assert.equal(followed, false);
    } finally {
      github.faults = {};
      await close();
    }
  });
});

describe('Facebook connector', () => {
  let facebook: FacebookLookalike;
  before(async () => { facebook = await startFakeFacebook(ISSUER); });
  after(() => facebook.close());
  const open = (extra: Record<string, unknown> = {}) => connectorFor({
    id: 'facebook', type: 'facebook', clientId: FACEBOOK_APP.appId, clientSecretEnv: 'S', dialogUrl: facebook.origin, graphUrl: facebook.origin, ...extra,
  }, { S: FACEBOOK_APP.appSecret });

  it('when the dialog URL is built, then it uses the configured Graph version and comma-separated permissions', async () => {
    const { url } = await open({ graphVersion: 'v19.0' }).startLogin({ redirectUri: REDIRECT('facebook'), state: 's' });
    assert.equal(url.pathname, '/v19.0/dialog/oauth');
    assert.equal(url.searchParams.get('scope'), 'public_profile,email');
  });

  it('when the operator trusts Facebook emails, then the email counts as verified; otherwise not', async () => {
    for (const [trustEmail, verified] of [[false, false], [true, true]] as const) {
      const connector = open({ trustEmail });
      const { identity } = await connector.finishLogin(await callbackFrom(connector, { action: '/dialog/oauth', fields: { user: FB_MARK.id } }));
      assert.equal(identity.email, FB_MARK.email);
      assert.equal(identity.emailVerified, verified);
    }
  });

  it('when a code is used twice, then Graph\'s error object (code 100) becomes "expired"', async () => {
    const connector = open();
    const cb = await callbackFrom(connector, { action: '/dialog/oauth', fields: { user: FB_MARK.id } });
    await connector.finishLogin(cb);
    await expectUpstreamError(connector.finishLogin(cb), 'expired');
  });

  it('when the app secret is wrong, then appsecret_proof and the exchange fail as a misconfiguration', async () => {
    const connector = connectorFor({ id: 'facebook', type: 'facebook', clientId: FACEBOOK_APP.appId, clientSecretEnv: 'S', dialogUrl: facebook.origin, graphUrl: facebook.origin }, { S: 'wrong' });
    await expectUpstreamError(connector.finishLogin(await callbackFrom(connector, { action: '/dialog/oauth', fields: { user: FB_MARK.id } })), 'misconfigured');
  });
});

describe('generic OAuth2 connector', () => {
  let github: GithubLookalike;
  before(async () => { github = await startFakeGithub(ISSUER); });
  after(() => github.close());

  it('when the mapping names other fields, then subject and email come from them, and a missing emailVerified path means unverified', async () => {
    const connector = connectorFor({
      id: 'oauth2', type: 'oauth2', displayName: 'X', clientId: OAUTH2_CLIENT.clientId, clientSecretEnv: 'S',
      authorizationUrl: `${github.baseUrl}/login/oauth/authorize`, tokenUrl: `${github.baseUrl}/login/oauth/access_token`, userinfoUrl: `${github.baseUrl}/api/v3/user`,
      claims: { subject: 'login', email: 'login', emailVerified: 'site_admin', name: 'name' },
    }, { S: OAUTH2_CLIENT.clientSecret });
    const { identity } = await connector.finishLogin(await callbackFrom(connector, { action: '/login/oauth/authorize', fields: { login: OCTOCAT.login } }));
    assert.equal(identity.subject, 'octocat');
    assert.equal(identity.email, 'octocat');
    assert.equal(identity.emailVerified, false, 'site_admin is absent, so not true');
  });
});

describe('Google connector discovery', () => {
  let google: GoogleLookalike;
  before(async () => { google = await startFakeGoogle([`${ISSUER}/upstream/google/callback`]); });
  after(() => google.close());

  it('when logins follow each other, then discovery is fetched once a day, not once a login', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const connector = connectorFor({ id: 'google', type: 'google', clientId: GOOGLE_CLIENT.clientId, clientSecretEnv: 'S', issuer: google.issuer }, { S: GOOGLE_CLIENT.clientSecret });
    const start = () => connector.startLogin({ redirectUri: REDIRECT('google'), state: 's' });
    await start();
    await start();
    assert.equal(google.discoveryRequests, 1);
    t.mock.timers.tick(25 * 60 * 60 * 1000);
    await start();
    assert.equal(google.discoveryRequests, 2);
  });
});

describe('OIDC connector', () => {
  let hung: Server;
  let hungUrl: string;
  let closeHung: () => Promise<void>;
  before(async () => {
    hung = createServer(() => { /* never answers */ });
    ({ origin: hungUrl, close: closeHung } = await listenOnLoopback(hung));
  });
  after(() => closeHung());

  it('when discovery hangs, then startLogin fails with "timeout" within the configured time', async () => {
    const connector = connectorFor({ id: 'x', type: 'oidc', displayName: 'X', clientId: 'c', clientSecretEnv: 'S', issuer: hungUrl, timeoutMs: 500 }, { S: 's' });
    const started = Date.now();
    await expectUpstreamError(connector.startLogin({ redirectUri: REDIRECT('x'), state: 's' }), 'timeout');
    assert.ok(Date.now() - started < 2000);
  });

  /** An issuer whose discovery answer is `answer`: startLogin must fail with "invalid_response" matching `message`. */
  async function discoveryRefused(answer: RequestListener, message: RegExp): Promise<void> {
    const { origin, close } = await listenOnLoopback(createServer(answer));
    try {
      const connector = connectorFor({ id: 'x', type: 'oidc', displayName: 'X', clientId: 'c', clientSecretEnv: 'S', issuer: origin }, { S: 's' });
      await assert.rejects(connector.startLogin({ redirectUri: REDIRECT('x'), state: 's' }), (err: unknown) => {
        assert.ok(err instanceof UpstreamError, String(err));
        assert.equal(err.code, 'invalid_response', err.message);
        assert.match(err.message, message);
        return true;
      });
    } finally {
      await close();
    }
  }

  it('when the discovery document is larger than the bound, then startLogin fails with "invalid_response" naming it', async () => {
    await discoveryRefused((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ issuer: 'x', padding: 'a'.repeat(MAX_UPSTREAM_BODY_BYTES) })),
      /\/\.well-known\/openid-configuration: answer larger than/);
  });

  it('when the issuer compresses its answer though asked for identity, then it is "invalid_response", not garbage parsed', async () => {
    await discoveryRefused((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }).end(gzipSync('{"issuer":"x"}')),
      /Content-Encoding gzip/);
  });

  it('when nothing listens at the issuer, then startLogin fails with "unavailable"', async () => {
    const connector = connectorFor({ id: 'x', type: 'oidc', displayName: 'X', clientId: 'c', clientSecretEnv: 'S', issuer: 'http://127.0.0.1:1' }, { S: 's' });
    await expectUpstreamError(connector.startLogin({ redirectUri: REDIRECT('x'), state: 's' }), 'unavailable');
  });
});
