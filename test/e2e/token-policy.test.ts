import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { buildAuthRequest, discoverDoorman, redeemCode } from '../helpers/rp.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Introspection and revocation between apps: an app learns about and ends only its own
 * tokens; a resource server named in `canIntrospect` reads the access tokens of the apps it
 * lists. Everything else is answered as for an unknown token (RFC 7662 §2.2, RFC 7009 §2.2).
 */
const REPORTS = { clientId: 'reports', clientSecret: 'reports-secret-0123456789' };
const API = { clientId: 'api', clientSecret: 'api-secret-0123456789' };
const CLI = { clientId: 'cli' };

describe('when apps introspect or revoke tokens issued to another app', () => {
  let s: Scenario;
  let wiki: oidc.Configuration;
  let reports: oidc.Configuration;
  let api: oidc.Configuration;
  let cli: oidc.Configuration;

  before(async () => {
    s = await startScenario({
      client: { firstParty: true },
      otherClients: [
        { ...REPORTS, redirectUris: ['http://127.0.0.1:4998/callback'], grantTypes: ['client_credentials'] },
        { ...API, redirectUris: ['http://127.0.0.1:4997/callback'], grantTypes: ['client_credentials'], canIntrospect: ['wiki'] },
        { ...CLI, redirectUris: ['http://127.0.0.1:4996/callback'] },
      ],
    });
    [wiki, reports, api, cli] = await Promise.all([
      discoverDoorman(s.doorman.url), discoverDoorman(s.doorman.url, REPORTS), discoverDoorman(s.doorman.url, API), discoverDoorman(s.doorman.url, CLI),
    ]);
  });
  after(() => s.close());

  /** Alice's tokens at the wiki (access and refresh), and the wiki's own client-credentials token. */
  async function wikiTokens() {
    const browser = new Browser();
    const req = await buildAuthRequest(wiki, { scope: 'openid email offline_access', prompt: 'consent' });
    const back = await chooseUpstream(browser, await browser.visit(req.url), 'google', ALICE.sub);
    const user = await redeemCode(wiki, back.url, req);
    assert.ok(user.refresh_token);
    const service = await oidc.clientCredentialsGrant(wiki, {});
    return { access: user.access_token, refresh: user.refresh_token, clientCredentials: service.access_token };
  }

  it('then another app, confidential or public, is told every token of the wiki is inactive', async () => {
    const tokens = await wikiTokens();
    for (const [kind, token] of Object.entries(tokens)) {
      assert.equal((await oidc.tokenIntrospection(wiki, token)).active, true, `the wiki's own ${kind} token`);
      assert.deepEqual({ ...await oidc.tokenIntrospection(reports, token) }, { active: false }, `${kind} token to another confidential app`);
      assert.deepEqual({ ...await oidc.tokenIntrospection(cli, token) }, { active: false }, `${kind} token to a public app`);
    }
  });

  it('then a resource server listed by canIntrospect reads the wiki\'s access tokens, not its refresh token nor other apps\' tokens', async () => {
    const tokens = await wikiTokens();
    const [account] = await s.db.query<{ id: string }>('SELECT id FROM "Account"');
    const access = await oidc.tokenIntrospection(api, tokens.access);
    assert.equal(access.active, true);
    assert.equal(access.sub, account!.id);
    assert.equal(access.client_id, 'wiki');
    assert.equal(access.scope, 'openid email offline_access');
    const service = await oidc.tokenIntrospection(api, tokens.clientCredentials);
    assert.equal(service.active, true);
    assert.equal(service.client_id, 'wiki');
    assert.deepEqual({ ...await oidc.tokenIntrospection(api, tokens.refresh) }, { active: false });
    const reportsToken = (await oidc.clientCredentialsGrant(reports, {})).access_token;
    assert.deepEqual({ ...await oidc.tokenIntrospection(api, reportsToken) }, { active: false }, 'reports is not in canIntrospect');
  });

  it('then another app\'s revocation is answered 200 and revokes nothing, while the wiki\'s own revocation works', async () => {
    const tokens = await wikiTokens();
    for (const [kind, token] of Object.entries(tokens)) {
      for (const [name, other] of [['reports', reports], ['api', api], ['cli', cli]] as const) {
        await oidc.tokenRevocation(other, token); // resolves only on 200
        assert.equal((await oidc.tokenIntrospection(wiki, token)).active, true, `${kind} token survived revocation by ${name}`);
      }
    }
    await oidc.tokenRevocation(wiki, tokens.refresh);
    assert.equal((await oidc.tokenIntrospection(wiki, tokens.refresh)).active, false);
    await assert.rejects(oidc.refreshTokenGrant(wiki, tokens.refresh), (err: { error?: string }) => err.error === 'invalid_grant');
  });
});
