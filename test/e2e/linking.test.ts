import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type * as oidc from 'openid-client';
import { assertErrorPage } from '../helpers/assertions.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE, MALLORY_UNVERIFIED, OUTSIDER } from '../fakes/fake-google.ts';
import { ALICE_GH, FB_MALLORY, FB_MARK, MALLORY_GH, OCTOCAT } from '../fakes/fake-upstreams.ts';

async function identitiesOf(s: Scenario, accountId: string): Promise<string[]> {
  return (await s.db.query<{ provider: string }>('SELECT provider FROM "Identity" WHERE "accountId" = $1 ORDER BY provider', [accountId])).map((r) => r.provider);
}
async function auditOf(s: Scenario, provider: string) {
  return s.db.query<{ type: string; accountId: string | null; detail: { reason?: string; how?: string; provedWith?: string } }>(
    'SELECT type, "accountId", detail FROM "AuditEvent" WHERE provider = $1 ORDER BY "createdAt"', [provider]);
}

describe('when an attacker presents the victim\'s email through upstreams that do not verify it', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  let victim: string;
  before(async () => {
    // autoLink is on for both attacker upstreams: even then an unverified email must not link.
    s = await startScenario({ with: ['facebook', 'oauth2'], client: { firstParty: true }, upstreams: { facebook: { autoLink: true }, oauth2: { autoLink: true } } });
    rp = await discoverDoorman(s.doorman.url);
    victim = (await signInThrough(rp, new Browser(), 'google', ALICE.sub)).tokens.claims()!.sub;
  });
  after(() => s.close());

  it('then Facebook only leads to a proof of ownership, which the attacker\'s own Google account cannot give', async () => {
    const browser = new Browser();
    const req = await buildAuthRequest(rp);
    const offer = await chooseUpstream(browser, await browser.visit(req.url), 'facebook', FB_MALLORY.id, {}, 'never');
    assert.equal(offer.status, 200, offer.body);
    assert.match(offer.body, /This email already has an account/);
    assert.match(offer.body, /Continue with Google/);
    const picker = await browser.submit(offer, '/link/google');
    const refused = await browser.submit(picker, '/decide', { sub: MALLORY_UNVERIFIED.sub }, APP.redirectUri);
    assertErrorPage(refused, 403, 'proof_mismatch');
    assert.ok(!browser.history.some((u) => u.href.startsWith(APP.redirectUri)), 'the app never got a code');
    assert.deepEqual(await identitiesOf(s, victim), ['google']);
    const audit = await auditOf(s, 'facebook');
    assert.deepEqual(audit.map((e) => [e.type, e.detail.reason]), [['link.offered', 'email_unverified'], ['link.refused', 'proof_mismatch']]);
  });

  it('then a generic OAuth2 upstream also leads only to the offer, and cancelling returns access_denied to the app', async () => {
    const browser = new Browser();
    const req = await buildAuthRequest(rp);
    const offer = await chooseUpstream(browser, await browser.visit(req.url), 'oauth2', MALLORY_GH.login, {}, 'never');
    assert.match(offer.body, /This email already has an account/);
    const back = await browser.submit(offer, '/abort', {}, APP.redirectUri);
    assert.equal(back.url.searchParams.get('error'), 'access_denied');
    assert.deepEqual(await identitiesOf(s, victim), ['google']);
    assert.deepEqual((await auditOf(s, 'oauth2')).map((e) => [e.type, e.detail.reason]), [['link.offered', 'email_unverified']]);
    assert.equal((await s.db.query('SELECT 1 FROM "Identity" WHERE provider = $1', ['oauth2'])).length, 0);
  });
});

/**
 * A fresh Doorman (GitHub fake, and those in `opts`) for one test, closed when that test ends,
 * with Alice signed in once through Google in `browser`; no test sees another's links.
 */
async function arrange(t: TestContext, opts: Parameters<typeof startScenario>[0]) {
  const s = await startScenario({ client: { firstParty: true }, ...opts });
  t.after(() => s.close());
  const rp = await discoverDoorman(s.doorman.url);
  const browser = new Browser();
  const alice = (await signInThrough(rp, browser, 'google', ALICE.sub)).tokens.claims()!.sub;
  return { s, rp, browser, alice };
}

/** Alice, signing in with GitHub, is offered the link and proves it with Google; the app redeems the code. */
async function linkGithubByProof(rp: oidc.Configuration) {
  const browser = new Browser();
  const req = await buildAuthRequest(rp);
  const offer = await chooseUpstream(browser, await browser.visit(req.url), 'github', ALICE_GH.login, {}, 'never');
  const picker = await browser.submit(offer, '/link/google');
  const back = await browser.submit(picker, '/decide', { sub: ALICE.sub }, APP.redirectUri);
  return { offer, tokens: await redeemCode(rp, back.url, req) };
}

describe('when Alice links GitHub by proving she owns her Google-backed account', () => {
  it('then she is offered the link, proves it with Google, and the app gets her one sub', async (t) => {
    const { s, rp, alice } = await arrange(t, { with: ['github'] });
    const { offer, tokens } = await linkGithubByProof(rp);
    assert.match(offer.body, /You signed in with GitHub as alice@example.com\./);
    assert.equal(tokens.claims()!.sub, alice);
    assert.deepEqual(await identitiesOf(s, alice), ['github', 'google']);
    const linked = (await auditOf(s, 'github')).find((e) => e.type === 'identity.linked');
    assert.deepEqual([linked?.accountId, linked?.detail.how, linked?.detail.provedWith], [alice, 'proved', 'google']);
  });

  it('then GitHub alone signs her in to the same account from now on', async (t) => {
    const { rp, alice } = await arrange(t, { with: ['github'] });
    assert.equal((await linkGithubByProof(rp)).tokens.claims()!.sub, alice);
    const { tokens } = await signInThrough(rp, new Browser(), 'github', ALICE_GH.login);
    assert.equal(tokens.claims()!.sub, alice);
  });
});

describe('when the operator opts in to auto-linking for GitHub', () => {
  const AUTO_LINK = { with: ['github'], upstreams: { github: { autoLink: true } } } satisfies Parameters<typeof startScenario>[0];

  it('then a GitHub email verified by GitHub, matching her Google-verified email, links without asking', async (t) => {
    const { s, rp, alice } = await arrange(t, AUTO_LINK);
    const { tokens } = await signInThrough(rp, new Browser(), 'github', ALICE_GH.login);
    assert.equal(tokens.claims()!.sub, alice);
    const linked = (await auditOf(s, 'github')).find((e) => e.type === 'identity.linked');
    assert.deepEqual([linked?.detail.how], ['auto']);
  });

  it('then an unverified GitHub email with the same address is only offered the proof', async (t) => {
    const { s, rp, alice } = await arrange(t, AUTO_LINK);
    // Her own GitHub account is auto-linked already; Mallory's must add nothing.
    assert.equal((await signInThrough(rp, new Browser(), 'github', ALICE_GH.login)).tokens.claims()!.sub, alice);
    const browser = new Browser();
    const offer = await chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), 'github', MALLORY_GH.login, {}, 'never');
    assert.match(offer.body, /This email already has an account/);
    assert.deepEqual(await identitiesOf(s, alice), ['github', 'google']);
  });
});

describe('the Account page', () => {
  const WITH = { with: ['github', 'facebook'] } satisfies Parameters<typeof startScenario>[0];
  const accountUrl = (s: Scenario) => new URL('/account', s.doorman.url);

  it('when signed in, then it lists the identities and recent sign-ins', async (t) => {
    const { s, browser } = await arrange(t, WITH);
    const page = await browser.visit(accountUrl(s));
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /<td[^>]*>Google<\/td>/);
    assert.match(page.body, /alice@example.com/);
    assert.match(page.body, /Signed in/);
    assert.match(page.body, /Your only sign-in method cannot be removed/);
  });

  it('when she links Facebook, then it is listed; when she unlinks it, then it is gone', async (t) => {
    const { s, browser, alice } = await arrange(t, WITH);
    const page = await browser.visit(accountUrl(s));
    const dialog = await browser.submit(page, '/account/link/facebook');
    const linked = await browser.submit(dialog, '/dialog/oauth', { user: FB_MARK.id });
    assert.equal(linked.url.pathname, '/account');
    assert.match(linked.body, /was linked to your account/);
    assert.match(linked.body, /<td[^>]*>Facebook<\/td>/);
    assert.deepEqual(await identitiesOf(s, alice), ['facebook', 'google']);
    const [fb] = await s.db.query<{ id: string }>('SELECT id FROM "Identity" WHERE provider = $1', ['facebook']);
    const confirm = await browser.submit(linked, `/account/identities/${fb!.id}/unlink`);
    assert.equal(confirm.status, 200);
    assert.match(confirm.body, /Remove Facebook from your account\?/);
    assert.deepEqual(await identitiesOf(s, alice), ['facebook', 'google'], 'nothing removed before she confirms');
    const unlinked = await browser.submit(confirm, `/account/identities/${fb!.id}/unlink`);
    assert.match(unlinked.body, /was removed from your account/);
    assert.deepEqual(await identitiesOf(s, alice), ['google']);
  });

  it('when she tries to unlink her last identity anyway, then it is refused', async (t) => {
    const { s, browser, alice } = await arrange(t, WITH);
    const page = await browser.visit(accountUrl(s));
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const [google] = await s.db.query<{ id: string }>('SELECT id FROM "Identity" WHERE "accountId" = $1', [alice]);
    assertErrorPage(await browser.request(new URL(`/account/identities/${google!.id}/unlink`, s.doorman.url), { form: { csrf, confirm: 'yes' } }), 409, 'last_identity');
    assert.deepEqual(await identitiesOf(s, alice), ['google']);
  });

  it('when the identity she links belongs to another account, then it is refused and stays there', async (t) => {
    const { s, rp, browser } = await arrange(t, WITH);
    const octo = (await signInThrough(rp, new Browser(), 'github', OCTOCAT.login)).tokens.claims()!.sub;
    const page = await browser.visit(accountUrl(s));
    const authorize = await browser.submit(page, '/account/link/github');
    const refused = await browser.submit(authorize, '/login/oauth/authorize', { login: OCTOCAT.login });
    assertErrorPage(refused, 403, 'identity_in_use');
    assert.deepEqual(await identitiesOf(s, octo), ['github']);
  });

  it('when a form has no valid CSRF token, then it is refused', async (t) => {
    const { s, browser } = await arrange(t, WITH);
    assertErrorPage(await browser.request(new URL('/account/link/github', s.doorman.url), { form: { csrf: 'nope' } }), 403, 'csrf');
  });

  it('when there is no session, then it sends the person to sign in and back to the page', async (t) => {
    const { s } = await arrange(t, WITH);
    const fresh = new Browser();
    const login = await fresh.visit(accountUrl(s));
    assert.match(login.body, /Sign in to your Doorman account/);
    const page = await chooseUpstream(fresh, login, 'google', OUTSIDER.sub, {}, 'never');
    assert.equal(page.url.pathname, '/account');
    assert.match(page.body, /eve@other.org/);
  });
});
