import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LookalikeFault } from '../../src/demo/lookalike-http.ts';
import { MAX_UPSTREAM_BODY_BYTES } from '../../src/upstreams/transport.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { OCTOCAT } from '../fakes/fake-upstreams.ts';
import { accountRowCount, assertErrorPage } from '../helpers/assertions.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Upstreams that fail the way real ones do. Each gets the page that says what happened,
 * within the upstream's timeoutMs plus a margin (an upper bound, not a timing).
 */
const TIMEOUT_MS = 1500;
const MARGIN_MS = 1500;

/** Runs a login up to Doorman's callback, then times only the callback. */
async function callbackPage(s: Scenario, upstreamId: 'google' | 'github', who: string): Promise<{ page: Page; ms: number }> {
  const browser = new Browser();
  const rp = await discoverDoorman(s.doorman.url);
  const login = await browser.visit((await buildAuthRequest(rp)).url);
  const callback = await chooseUpstream(browser, login, upstreamId, who, {}, `${s.doorman.url}/upstream/${upstreamId}/callback`);
  const started = Date.now();
  const page = await browser.visit(callback.url);
  return { page, ms: Date.now() - started };
}

describe('when Google fails at the callback', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ upstream: { timeoutMs: TIMEOUT_MS } }); });
  after(() => s.close());

  const unavailable: [string, string, LookalikeFault][] = [
    ['the token endpoint answers 503 with an HTML page', '/token', { kind: 'answer', status: 503, contentType: 'text/html', body: '<html><body>Service Unavailable</body></html>' }],
    ['the token endpoint answers 500 with garbage', '/token', { kind: 'answer', status: 500, contentType: 'application/json', body: '{"acc\u0000 garbage' }],
    ['the token endpoint answers 500 with an OAuth error', '/token', { kind: 'answer', status: 500, contentType: 'application/json', body: '{"error":"invalid_request"}' }],
    ['its keys (JWKS) answer 502', '/oauth2/v3/certs', { kind: 'answer', status: 502, contentType: 'text/html', body: '<h1>Bad Gateway</h1>' }],
  ];
  for (const [label, path, fault] of unavailable) {
    it(`then when ${label}, the page says the provider is having trouble`, async () => {
      s.google.faults[path] = fault;
      try {
        const { page } = await callbackPage(s, 'google', ALICE.sub);
        assertErrorPage(page, 502, 'unavailable');
        assert.match(page.body, /having trouble/);
        assert.doesNotMatch(page.body, /could not be verified/);
        assert.equal(await accountRowCount(s), 0);
      } finally {
        delete s.google.faults[path];
      }
    });
  }

  it('then a token endpoint that sends headers and stalls the body is a timeout, in time', async () => {
    s.google.faults['/token'] = { kind: 'stall-body' };
    try {
      const { page, ms } = await callbackPage(s, 'google', ALICE.sub);
      assertErrorPage(page, 504, 'timeout');
      assert.ok(ms < TIMEOUT_MS + MARGIN_MS, `answered in ${ms} ms`);
    } finally {
      delete s.google.faults['/token'];
    }
  });

  it('then a token answer that never stops coming is refused at the size bound, long before the deadline', async () => {
    s.google.faults['/token'] = { kind: 'endless-body' };
    try {
      const { page, ms } = await callbackPage(s, 'google', ALICE.sub);
      assertErrorPage(page, 502, 'invalid_response');
      // Read to the deadline, it would have been a timeout page.
      assert.ok(ms < TIMEOUT_MS, `answered in ${ms} ms`);
      assert.equal(await accountRowCount(s), 0);
    } finally {
      delete s.google.faults['/token'];
    }
  });

  it('then a token answer that announces more than the bound (Content-Length) is refused', async () => {
    s.google.faults['/token'] = { kind: 'answer', status: 200, contentType: 'application/json', body: JSON.stringify({ access_token: 'a'.repeat(MAX_UPSTREAM_BODY_BYTES), token_type: 'Bearer' }) };
    try {
      const { page } = await callbackPage(s, 'google', ALICE.sub);
      assertErrorPage(page, 502, 'invalid_response');
      assert.equal(await accountRowCount(s), 0);
    } finally {
      delete s.google.faults['/token'];
    }
  });
});

describe('when GitHub answers every call slowly', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ with: ['github'], upstreams: { github: { timeoutMs: TIMEOUT_MS } } }); });
  after(() => s.close());

  it('then token, /user and /user/emails share one deadline: a timeout page within timeoutMs', async () => {
    // Each call alone is well within the limit; together they are not.
    const slow: LookalikeFault = { kind: 'slow', delayMs: Math.round(TIMEOUT_MS * 0.6) };
    for (const path of ['/login/oauth/access_token', '/api/v3/user', '/api/v3/user/emails']) s.github!.faults[path] = slow;
    try {
      const { page, ms } = await callbackPage(s, 'github', OCTOCAT.login);
      assertErrorPage(page, 504, 'timeout');
      assert.ok(ms < TIMEOUT_MS + MARGIN_MS, `answered in ${ms} ms`);
      assert.equal(await accountRowCount(s), 0);
    } finally {
      s.github!.faults = {};
    }
  });

  it('then one slow call within the limit still signs in', async () => {
    s.github!.faults['/api/v3/user/emails'] = { kind: 'slow', delayMs: Math.round(TIMEOUT_MS * 0.4) };
    try {
      const { page } = await callbackPage(s, 'github', OCTOCAT.login);
      assert.equal(page.status, 200, page.body.slice(0, 500));
      assert.match(page.body, /wants to access your account/);
    } finally {
      s.github!.faults = {};
    }
  });
});
