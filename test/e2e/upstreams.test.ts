import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type * as oidc from 'openid-client';
import { accountRowCount, assertErrorPage } from '../helpers/assertions.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman } from '../helpers/rp.ts';
import { chooseUpstream, signInThrough } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { DANA, FB_MARK, FB_PHONE_ONLY, NEWBIE, OCTOCAT } from '../fakes/fake-upstreams.ts';

async function identityRows(s: Scenario, provider: string) {
  return s.db.query<{ subject: string; email: string | null; emailVerified: boolean; profile: { name?: string; groups: string[] } }>(
    'SELECT subject, email, "emailVerified", profile FROM "Identity" WHERE provider = $1 ORDER BY subject', [provider]);
}

describe('when every kind of upstream is configured', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({ with: ['github', 'facebook', 'oidc', 'oauth2'], client: { firstParty: true } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then the login page offers each of them, in config order', async () => {
    const login = await new Browser().visit((await buildAuthRequest(rp)).url);
    const labels = [...login.body.matchAll(/Continue with ([^<]+)</g)].map((m) => m[1]);
    assert.deepEqual(labels, ['Google', 'GitHub', 'Facebook', 'Example OIDC', 'Example OAuth2']);
  });

  it('then GitHub signs in with the numeric id as subject and the verified primary email from /user/emails', async () => {
    const { tokens, userinfo } = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login);
    assert.equal(userinfo.email, 'octocat@github.example', 'public email is null; /user/emails has it');
    assert.equal(userinfo.email_verified, true);
    assert.equal(userinfo.name, 'The Octocat');
    assert.equal(userinfo.preferred_username, 'octocat');
    assert.match(String(userinfo.picture), /avatars\/583231$/);
    const [identity] = await identityRows(s, 'github');
    assert.equal(identity!.subject, '583231');
    assert.notEqual(tokens.claims()!.sub, identity!.subject);
  });

  it('then a GitHub account whose primary email is unverified signs in with an unverified email', async () => {
    const { userinfo } = await signInThrough(rp, new Browser(), 'github', NEWBIE.login);
    assert.equal(userinfo.email, 'newbie@example.com');
    assert.equal(userinfo.email_verified, false);
    assert.equal(userinfo.name, undefined);
  });

  it('then Facebook signs in through the Graph API, and its email counts as unverified', async () => {
    const { userinfo } = await signInThrough(rp, new Browser(), 'facebook', FB_MARK.id);
    assert.equal(userinfo.email, 'mark@example.com');
    assert.equal(userinfo.email_verified, false);
    assert.equal(userinfo.name, 'Mark Example');
  });

  it('then a Facebook user who declines the email permission signs in without an email claim', async () => {
    const { userinfo } = await signInThrough(rp, new Browser(), 'facebook', FB_MARK.id, { decline_email: '1' });
    assert.equal(userinfo.email, undefined);
    assert.equal(userinfo.email_verified, undefined);
    assert.equal(userinfo.name, 'Mark Example');
  });

  it('then a Facebook user with no email at all signs in', async () => {
    const { userinfo } = await signInThrough(rp, new Browser(), 'facebook', FB_PHONE_ONLY.id);
    assert.equal(userinfo.email, undefined);
    assert.equal(userinfo.name, 'Phone Only');
  });

  it('then declining the Facebook dialog gives the cancelled page, not a crash', async () => {
    const browser = new Browser();
    const page = await chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), 'facebook', 'cancel');
    assertErrorPage(page, 403, 'denied');
  });

  it('then a generic OIDC provider signs in, with email and groups found at its userinfo', async () => {
    const { tokens, userinfo } = await signInThrough(rp, new Browser(), 'oidc', DANA.sub);
    assert.equal(userinfo.email, 'dana@corp.example');
    assert.equal(userinfo.email_verified, true);
    assert.equal(userinfo.preferred_username, 'dana');
    assert.deepEqual(userinfo.groups, ['admins', 'engineering']);
    assert.equal(tokens.claims()!.groups, undefined, 'groups are released at userinfo');
    const [identity] = await identityRows(s, 'oidc');
    assert.equal(identity!.subject, DANA.sub);
  });

  it('then a generic OAuth2 provider signs in with its userinfo JSON mapped to the identity', async () => {
    const { userinfo } = await signInThrough(rp, new Browser(), 'oauth2', OCTOCAT.login);
    assert.equal(userinfo.preferred_username, 'octocat');
    assert.equal(userinfo.name, 'The Octocat');
    assert.equal(userinfo.email, undefined, 'GitHub /user shows no public email for octocat');
    const [identity] = await identityRows(s, 'oauth2');
    assert.equal(identity!.subject, '583231');
  });

  it('then a generic OAuth2 provider that answers the token request form-encoded still works', async () => {
    s.github!.alwaysFormEncoded = true;
    try {
      const { userinfo } = await signInThrough(rp, new Browser(), 'oauth2', OCTOCAT.login);
      assert.equal(userinfo.preferred_username, 'octocat');
      assert.equal(userinfo.name, 'The Octocat');
    } finally {
      s.github!.alwaysFormEncoded = false;
    }
  });

  it('then the same upstream account signs in to the same Doorman account, its profile refreshed', async () => {
    const before = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login);
    OCTOCAT.name = 'Octocat Renamed';
    try {
      const again = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login);
      assert.equal(again.tokens.claims()!.sub, before.tokens.claims()!.sub);
      assert.equal(again.userinfo.name, 'Octocat Renamed');
      const [identity] = await identityRows(s, 'github');
      assert.equal(identity!.profile.name, 'Octocat Renamed');
    } finally {
      OCTOCAT.name = 'The Octocat';
    }
  });

  it('then a hung GitHub gives a timeout page in time while Google keeps working', async () => {
    s.github!.tokenDelayMs = 5000;
    try {
      const browser = new Browser();
      const started = Date.now();
      const page = await chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), 'github', OCTOCAT.login);
      assertErrorPage(page, 504, 'timeout');
      assert.ok(Date.now() - started < 4500);
      const { userinfo } = await signInThrough(rp, new Browser(), 'google', ALICE.sub);
      assert.equal(userinfo.email, 'alice@example.com');
    } finally {
      s.github!.tokenDelayMs = 0;
    }
  });
});

describe('when GitHub is restricted to a team and its groups are prefixed', () => {
  let s: Scenario;
  let rp: oidc.Configuration;
  before(async () => {
    s = await startScenario({ with: ['github'], client: { firstParty: true }, upstreams: { github: { allowedOrganizations: ['acme:platform'], groupsPrefix: 'github:' } } });
    rp = await discoverDoorman(s.doorman.url);
  });
  after(() => s.close());

  it('then a member signs in and the groups claim carries the organizations and teams', async () => {
    const { userinfo } = await signInThrough(rp, new Browser(), 'github', OCTOCAT.login);
    assert.deepEqual(userinfo.groups, ['github:acme', 'github:acme:platform']);
  });

  it('then a non-member gets a refusal page and nothing is written', async () => {
    const before = await accountRowCount(s);
    const browser = new Browser();
    const page = await chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), 'github', NEWBIE.login);
    assertErrorPage(page, 403, 'org_not_allowed');
    assert.match(page.body, /not a member of an organization or team allowed/);
    assert.equal(await accountRowCount(s), before);
    const audit = await s.db.query<{ type: string; provider: string; detail: { reason: string } }>(`SELECT type, provider, detail FROM "AuditEvent" WHERE type = 'login.refused'`);
    assert.deepEqual(audit.map((e) => [e.provider, e.detail.reason]), [['github', 'org_not_allowed']]);
  });
});

describe('when GitHub and Facebook refuse Doorman', () => {
  let s: Scenario;
  before(async () => {
    s = await startScenario({ with: ['github', 'facebook'], client: { firstParty: true }, upstreams: { github: { clientSecretEnv: 'WIKI_SECRET' }, facebook: { clientSecretEnv: 'WIKI_SECRET' } } });
  });
  after(() => s.close());

  for (const [upstream, who] of [['github', OCTOCAT.login], ['facebook', FB_MARK.id]] as const) {
    it(`then a wrong ${upstream} secret (reported by ${upstream === 'github' ? 'an HTTP 200 error' : 'a Graph error object'}) gives the misconfiguration page`, async () => {
      const rp = await discoverDoorman(s.doorman.url);
      const browser = new Browser();
      const page = await chooseUpstream(browser, await browser.visit((await buildAuthRequest(rp)).url), upstream, who);
      assertErrorPage(page, 502, 'misconfigured');
      assert.equal(await accountRowCount(s), 0);
    });
  }
});

describe('when an app may use only some upstreams', () => {
  let s: Scenario;
  before(async () => { s = await startScenario({ with: ['github'], client: { upstreams: ['github'] } }); });
  after(() => s.close());

  it('then its login page shows only those, and the others cannot be reached by a crafted form', async () => {
    const rp = await discoverDoorman(s.doorman.url);
    const browser = new Browser();
    const login = await browser.visit((await buildAuthRequest(rp)).url);
    assert.match(login.body, /Continue with GitHub/);
    assert.doesNotMatch(login.body, /Continue with Google/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const uid = /\/interaction\/([^/"]+)\/upstream/.exec(login.body)![1]!;
    const crafted = await browser.request(new URL(`/interaction/${uid}/upstream/google`, s.doorman.url), { form: { csrf } });
    assertErrorPage(crafted, 404, 'unknown_upstream');
  });
});
