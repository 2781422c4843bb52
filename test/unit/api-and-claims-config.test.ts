import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { buildConfig } from '../../src/config/load.ts';
import { configProblems } from '../helpers/config-problems.ts';
import { clientClaimsExtraMetadata, isVisibleGroup } from '../../src/claims/client-claims.ts';
import { keyPolicies } from '../../src/keys/key-ring.ts';

const client = { clientId: 'wiki', clientSecretEnv: 'W_SECRET', redirectUris: ['https://wiki.example.com/cb'] };
const env = { W_SECRET: 'w' };

const problems = (raw: unknown) => configProblems(raw, env);

describe('resource servers and per-app claims in the config', () => {
  it('when a resource server is declared, then defaults are a JWT for 600 seconds open to every client', () => {
    const cfg = buildConfig({ clients: [client], resourceServers: [{ identifier: 'https://api.example.com/', scopes: ['orders:read'] }] }, env);
    assert.deepEqual(cfg.resourceServers[0], { identifier: 'https://api.example.com/', scopes: ['orders:read'], accessTokenFormat: 'jwt', accessTokenLifetime: 600 });
  });

  it('when an API\'s tokens live longer than anything else, then a rotated signing key stays published until they expire', () => {
    const cfg = buildConfig({ ttl: { idToken: 300, accessToken: 300, session: 600 }, resourceServers: [{ identifier: 'https://api.example.com/', accessTokenLifetime: 86400 }] }, {});
    assert.ok(keyPolicies(cfg, false).signing.keepPreviousMs >= 86400 * 1000);
  });

  it('when a resource server is malformed, then each problem names its key', () => {
    const found = problems({
      clients: [client],
      resourceServers: [
        { identifier: 'https://api.example.com/#frag', scopes: ['openid', 'has space', 'ok'] },
        { identifier: 'https://b.example/', scopes: ['admin'], accessTokenFormat: 'paseto', accessTokenLifetime: 0 },
      ],
    });
    for (const expected of [
      /^resourceServers\[0\]\.identifier: .*fragment/, /^resourceServers\[0\]\.scopes\[0\]: .*Doorman's own/, /^resourceServers\[0\]\.scopes\[1\]: .*scope token/,
      /^resourceServers\[1\]\.scopes\[0\]: /, /^resourceServers\[1\]\.accessTokenFormat: /, /^resourceServers\[1\]\.accessTokenLifetime: /,
    ]) assert.ok(found.some((p) => expected.test(p)), `${expected} in ${found.join('\n')}`);
    // Checks across keys run once every key is well-formed.
    const across = problems({ clients: [client], resourceServers: [{ identifier: 'https://b.example/', clients: ['nobody'] }, { identifier: 'https://b.example/' }] });
    assert.ok(across.some((p) => /^resourceServers\[0\]\.clients\[0\]: no client/.test(p)), across.join('\n'));
    assert.ok(across.some((p) => /^resourceServers\[1\]\.identifier: duplicate/.test(p)), across.join('\n'));
  });

  it('when an API\'s identifier is also a client id, then the config is refused: that app\'s ID and logout tokens would carry the API as `aud`', () => {
    const api = 'https://api.example.com/';
    const found = problems({ clients: [{ ...client, clientId: api }], resourceServers: [{ identifier: api }] });
    assert.ok(found.some((p) => /^resourceServers\[0\]\.identifier: .*client id/.test(p)), found.join('\n'));
  });

  it('when an app\'s static claims would replace a standard claim, then the config is refused', () => {
    for (const name of ['sub', 'aud', 'email', 'groups', 'iss']) {
      const found = problems({ clients: [{ ...client, staticClaims: { [name]: 'x' } }] });
      assert.ok(found.some((p) => p.startsWith('clients[0].staticClaims') && /standard claim/.test(p)), `${name}: ${found.join('\n')}`);
    }
    assert.ok(problems({ clients: [{ ...client, staticClaims: { 'has space': 1 } }] }).some((p) => p.startsWith('clients[0].staticClaims')));
    assert.ok(problems({ clients: [{ ...client, staticClaims: { big: 'x'.repeat(5000) } }] }).some((p) => /4000/.test(p)));
  });

  it('when a client defined outside the config carries claim settings, then oidc-provider gets the same rules', () => {
    const validate = (key: string, value: unknown) => clientClaimsExtraMetadata.validator!(undefined, key, value, {} as never);
    assert.doesNotThrow(() => validate('doorman_static_claims', { tenant: 'acme' }));
    assert.doesNotThrow(() => validate('doorman_groups_filter', undefined));
    assert.throws(() => validate('doorman_static_claims', { sub: 'someone-else' }), /doorman_static_claims/);
    assert.throws(() => validate('doorman_static_claims', ['tenant']), /doorman_static_claims/);
    assert.throws(() => validate('doorman_groups_filter', { prefixes: 'eng' }), /doorman_groups_filter/);
  });

  it('when a pairwise app has redirect URIs on two hosts or cannot sign people in, then the config is refused', () => {
    const twoHosts = problems({ clients: [{ ...client, subjectType: 'pairwise', redirectUris: ['https://a.example/cb', 'https://b.example/cb'] }] });
    assert.ok(twoHosts.some((p) => /^clients\[0\]\.subjectType: .*one host/.test(p)), twoHosts.join('\n'));
    const machine = problems({ clients: [{ ...client, subjectType: 'pairwise', grantTypes: ['client_credentials'] }] });
    assert.ok(machine.some((p) => /^clients\[0\]\.subjectType: .*authorization_code/.test(p)), machine.join('\n'));
  });

  it('when a pairwise app also has the device grant, then the config is refused, not the app at its every request', () => {
    // oidc-provider (lib/helpers/client_schema.js) holds such a client invalid unless it
    // authenticates with private_key_jwt, which Doorman does not offer: every request of the
    // app, its browser sign-ins too, would end in a plain-text 400 invalid_client_metadata.
    for (const c of [{ ...client, subjectType: 'pairwise' }, { clientId: 'cli', redirectUris: ['https://cli.example/cb'], subjectType: 'pairwise' }]) {
      const found = problems({ clients: [{ ...c, grantTypes: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'] }] });
      assert.ok(found.some((p) => /^clients\[0\]\.subjectType: .*device/.test(p)), found.join('\n'));
    }
  });

  it('when a groups filter is set, then a group is visible by exact name or by prefix only', () => {
    const filter = { prefixes: ['eng-'], names: ['admins'] };
    assert.equal(isVisibleGroup(undefined, 'anything'), true);
    assert.equal(isVisibleGroup(filter, 'eng-platform'), true);
    assert.equal(isVisibleGroup(filter, 'admins'), true);
    assert.equal(isVisibleGroup(filter, 'Admins'), false);
    assert.equal(isVisibleGroup(filter, 'admins-old'), false);
    assert.equal(isVisibleGroup(filter, 'eng'), false);
  });

  it('when the README shows an API or per-app claims config, then Doorman accepts it as shown', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const yamlAfter = (heading: string) => parse(new RegExp(`${heading}[\\s\\S]*?\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(readme)![1]!);
    // The examples elide each client's usual keys ("# ..."): add them.
    const usual = { clientSecretEnv: 'W_SECRET', redirectUris: ['https://app.example.com/cb'] };
    const apis = yamlAfter('## Access tokens for APIs');
    const withApis = buildConfig({ ...apis, clients: [...apis.clients, { clientId: 'billing-worker' }].map((c) => ({ ...usual, ...c })) }, env);
    assert.deepEqual(withApis.resourceServers[0]!.scopes, ['orders:read', 'orders:write']);
    const claims = yamlAfter('## Claims per app');
    const [app] = buildConfig({ clients: claims.clients.map((c: object) => ({ ...usual, ...c })) }, env).clients;
    assert.deepEqual(app!.staticClaims, { tenant: 'acme', plan: { seats: 20 } });
    assert.equal(app!.subjectType, 'pairwise');
  });
});
