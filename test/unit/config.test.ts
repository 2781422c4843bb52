import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildConfig, ConfigError, loadConfig } from '../../src/config/load.ts';
import { configProblems } from '../helpers/config-problems.ts';

const google = { id: 'google', type: 'google', clientId: 'cid', clientSecretEnv: 'G_SECRET' };
const client = { clientId: 'wiki', clientSecretEnv: 'W_SECRET', redirectUris: ['https://wiki.example.com/cb'] };
const env = { G_SECRET: 'g', W_SECRET: 'w' };

const problems = (raw: unknown, e: Record<string, string> = env) => configProblems(raw, e);

describe('config', () => {
  it('when empty, then it defaults to http://localhost:3000 with nothing configured', () => {
    const cfg = buildConfig({}, {});
    assert.equal(cfg.issuer, 'http://localhost:3000');
    assert.equal(cfg.port, 3000);
    assert.equal(cfg.databaseUrl, undefined);
    assert.equal(cfg.ttl.authorizationCode, 60);
  });

  it('when valid, then secrets are resolved from the environment and the result is frozen', () => {
    const cfg = buildConfig({ issuer: 'https://id.example.com/', clients: [client], upstreams: [google] }, { ...env, DATABASE_URL: 'postgresql://x/y' });
    assert.equal(cfg.issuer, 'https://id.example.com');
    assert.equal(cfg.clients[0]!.clientSecret, 'w');
    assert.equal(cfg.upstreams[0]!.clientSecret, 'g');
    const upstream = cfg.upstreams[0]!;
    assert.ok(upstream.type === 'google');
    assert.equal(upstream.issuer, 'https://accounts.google.com');
    assert.equal(cfg.databaseUrl, 'postgresql://x/y');
    assert.ok(Object.isFrozen(cfg.clients[0]));
  });

  it('when several keys are wrong, then every problem is reported with its key path', () => {
    const found = problems({ prot: 1, clients: [{ ...client, redirectUris: ['http://wiki.example.com/cb#x'] }], upstreams: [{ ...google, type: 'gogle' }] });
    assert.ok(found.some((p) => p.startsWith('(root)') && p.includes('prot')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('upstreams[0].type')), found.join('\n'));
  });

  it('when a redirect URI is plain http off loopback, has a fragment or hides its host behind a user name, then it is refused', () => {
    assert.deepEqual(problems({ clients: [{ ...client, redirectUris: ['http://wiki.example.com/cb', 'https://a.example.com/cb#frag', 'https://wiki.example.com@evil.example/cb'] }] }), [
      'clients[0].redirectUris[0]: plain http is allowed only for loopback hosts',
      'clients[0].redirectUris[1]: must not contain a fragment',
      'clients[0].redirectUris[2]: must not contain a user name or password',
    ]);
  });

  it('when a client_id holds anything but printable ASCII, then the key is named at start, not every sign-in refused later', () => {
    assert.deepEqual(problems({ clients: [{ ...client, clientId: 'wïki' }] }), ['clients[0].clientId: must be printable ASCII (RFC 6749 Appendix A.1, VSCHAR)']);
  });

  it('when a secret environment variable is missing, then the message names the key and the variable', () => {
    assert.deepEqual(problems({ clients: [client], upstreams: [google] }, { W_SECRET: 'w' }), ['upstreams[0].clientSecretEnv: environment variable G_SECRET is not set']);
  });

  it('when a public client asks for client_credentials, then it is refused', () => {
    assert.deepEqual(problems({ clients: [{ clientId: 'spa', redirectUris: ['https://spa.example.com/cb'], grantTypes: ['authorization_code', 'client_credentials'] }] }),
      ['clients[0].grantTypes: client_credentials needs a confidential client (set clientSecretEnv)']);
  });

  it('when a client uses the device grant alone, then it needs no redirect URI; the code flow still needs one', () => {
    const cli = { clientId: 'cli', grantTypes: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'] };
    assert.deepEqual(buildConfig({ clients: [cli] }, env).clients[0]!.redirectUris, []);
    assert.deepEqual(problems({ clients: [{ clientId: 'spa' }] }), ['clients[0].redirectUris: the authorization_code grant needs at least one redirect URI']);
    assert.deepEqual(problems({ clients: [{ ...cli, grantTypes: ['device_code'] }] }).map((p) => p.split(':')[0]), ['clients[0].grantTypes[0]']);
  });

  it('when ttl.deviceCode is outside 1 to 30 minutes, then it is refused; the default is 10 minutes', () => {
    assert.equal(buildConfig({}, {}).ttl.deviceCode, 600);
    assert.deepEqual(problems({ ttl: { deviceCode: 30 } }).map((p) => p.split(':')[0]), ['ttl.deviceCode']);
    assert.deepEqual(problems({ ttl: { deviceCode: 3600 } }).map((p) => p.split(':')[0]), ['ttl.deviceCode']);
  });

  it('when canIntrospect names an unknown client or belongs to a public client, then the key is named', () => {
    const spa = { clientId: 'spa', redirectUris: ['https://spa.example.com/cb'] };
    assert.deepEqual(problems({ clients: [{ ...client, canIntrospect: ['spa', 'wikki'] }, { ...spa, canIntrospect: ['wiki'] }] }), [
      'clients[0].canIntrospect[1]: no client with clientId "wikki"',
      'clients[1].canIntrospect: introspecting other clients\' tokens needs a confidential client (set clientSecretEnv)',
    ]);
  });

  it('when a public client says pkce: optional, then it is refused (public clients always need PKCE)', () => {
    assert.deepEqual(problems({ clients: [{ clientId: 'spa', redirectUris: ['https://spa.example.com/cb'], pkce: 'optional' }] }),
      ['clients[0].pkce: a public client (no clientSecretEnv) always needs PKCE: remove the key or say required']);
    assert.deepEqual(problems({ clients: [{ ...client, pkce: 'sometimes' }] }).map((p) => p.split(':')[0]), ['clients[0].pkce']);
    assert.equal(buildConfig({ clients: [{ ...client, pkce: 'required' }] }, env).clients[0]!.pkce, 'required');
  });

  it('when a secret comes from a file, then it is read and trimmed; a missing file is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'doorman-secret-'));
    writeFileSync(join(dir, 'gh'), 'file-secret\n');
    const github = { id: 'github', type: 'github', clientId: 'c', clientSecretFile: join(dir, 'gh') };
    assert.equal(buildConfig({ upstreams: [github] }, {}).upstreams[0]!.clientSecret, 'file-secret');
    assert.deepEqual(problems({ upstreams: [{ ...github, clientSecretFile: join(dir, 'nope') }] }, {}), [`upstreams[0].clientSecretFile: cannot read ${join(dir, 'nope')} (ENOENT)`]);
  });

  it('when an upstream has both or neither secret source, then it is refused', () => {
    assert.deepEqual(problems({ upstreams: [{ ...google, clientSecretFile: '/x' }] }), ['upstreams[0].clientSecretEnv: set exactly one of clientSecretEnv and clientSecretFile']);
    assert.deepEqual(problems({ upstreams: [{ id: 'g', type: 'google', clientId: 'c' }] }), ['upstreams[0].clientSecretEnv: set exactly one of clientSecretEnv and clientSecretFile']);
  });

  it('when a client names an upstream that does not exist, then the key is named', () => {
    assert.deepEqual(problems({ clients: [{ ...client, upstreams: ['google', 'gitlab'] }], upstreams: [google] }), ['clients[0].upstreams[1]: no upstream with id "gitlab"']);
  });

  it('when any upstream endpoint is plain http off loopback, then that key is named', () => {
    const found = problems({ upstreams: [
      { id: 'gh', type: 'github', clientId: 'c', clientSecretEnv: 'G_SECRET', baseUrl: 'http://github.corp.example' },
      { id: 'o', type: 'oauth2', displayName: 'O', clientId: 'c', clientSecretEnv: 'G_SECRET', authorizationUrl: 'https://a.example/auth', tokenUrl: 'http://a.example/token', userinfoUrl: 'https://a.example/me' },
    ] });
    assert.deepEqual(found, [
      'upstreams[0].baseUrl: plain http is allowed only for loopback hosts outside production (got http://github.corp.example)',
      'upstreams[1].tokenUrl: plain http is allowed only for loopback hosts outside production (got http://a.example/token)',
    ]);
  });

  it('when a generic upstream lacks its required keys, then each is named', () => {
    const found = problems({ upstreams: [{ id: 'o', type: 'oauth2', clientId: 'c', clientSecretEnv: 'G_SECRET' }] });
    for (const key of ['displayName', 'authorizationUrl', 'tokenUrl', 'userinfoUrl']) assert.ok(found.some((p) => p.startsWith(`upstreams[0].${key}:`)), `${key} in ${found.join('\n')}`);
  });

  it('when ids repeat, then the duplicate is named', () => {
    assert.deepEqual(problems({ upstreams: [google, google] }), ['upstreams[1].id: duplicate upstream id "google"']);
  });

  it('when NODE_ENV=production, then an http issuer and an http upstream are refused', () => {
    const found = problems({ issuer: 'http://localhost:3000', upstreams: [{ ...google, issuer: 'http://127.0.0.1:9999' }] }, { ...env, NODE_ENV: 'production' });
    assert.deepEqual(found, [
      'issuer: must be https when NODE_ENV=production (got http://localhost:3000)',
      'upstreams[0].issuer: plain http is allowed only for loopback hosts outside production (got http://127.0.0.1:9999)',
    ]);
  });

  it('when the upstream issuer is http on a public host, then it is refused even in development', () => {
    assert.match(problems({ upstreams: [{ ...google, issuer: 'http://accounts.example.com' }] })[0]!, /^upstreams\[0\]\.issuer: plain http/);
  });

  it('when the YAML file is broken, then the file is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'doorman-cfg-'));
    const file = join(dir, 'doorman.yaml');
    writeFileSync(file, 'clients: [\n');
    assert.throws(() => loadConfig({}, file), (err: ConfigError) => err.problems[0]!.startsWith(`${file}: not valid YAML`));
    assert.throws(() => loadConfig({}, join(dir, 'missing.yaml')), (err: ConfigError) => /cannot read config file \(ENOENT\)/.test(err.problems[0]!));
  });

  it('when a redirect URI is not a URL, then the message names its key (not a bare "Invalid URL")', () => {
    assert.deepEqual(problems({ clients: [{ ...client, redirectUris: ['not a url'], postLogoutRedirectUris: ['https://ok.example.com/', 'nope'] }] }), [
      'clients[0].redirectUris[0]: Invalid URL',
      'clients[0].postLogoutRedirectUris[1]: Invalid URL',
    ]);
  });

  it('when an environment variable Doorman reads is malformed, then the problem names the variable', () => {
    assert.deepEqual(problems({}, { DOORMAN_LOG_LEVEL: 'verbose' }), ['DOORMAN_LOG_LEVEL: Invalid option: expected one of "debug"|"info"|"warn"|"error"|"silent"']);
    for (const port of ['abc', '70000', '-1', '80.5', '0x50']) assert.match(problems({}, { PORT: port }).join('\n'), /^PORT: /, port);
    assert.match(problems({}, { DOORMAN_ISSUER: 'login.example.com' }).join('\n'), /^DOORMAN_ISSUER: /);
    assert.deepEqual(problems({}, { DOORMAN_ISSUER: 'http://login.example.com' }), ['DOORMAN_ISSUER: must be https unless the host is loopback (got http://login.example.com)']);
  });

  it('when DATABASE_URL is not a PostgreSQL URL, then it is named and its password is not printed', () => {
    for (const url of ['mysql://doorman:hunter2@db/doorman', 'postgresql//doorman:hunter2@db']) {
      const found = problems({}, { DATABASE_URL: url });
      assert.deepEqual(found, ['DATABASE_URL: must be a postgresql:// URL']);
    }
  });

  it('when the file and the environment are both wrong, then every problem is reported at once', () => {
    assert.deepEqual(problems({ logLevel: 'loud' }, { PORT: 'x' }), ['logLevel: Invalid option: expected one of "debug"|"info"|"warn"|"error"|"silent"', 'PORT: must be a port number']);
  });

  it('when an environment variable is empty, then it counts as unset', () => {
    const cfg = buildConfig({ port: 1234 }, { PORT: '', DOORMAN_LOG_LEVEL: '', DOORMAN_ISSUER: '', DATABASE_URL: '' });
    assert.equal(cfg.port, 1234);
    assert.equal(cfg.logLevel, 'info');
    assert.equal(cfg.databaseUrl, undefined);
  });

  it('when any of a corpus of wrong configs is loaded, then each problem starts with the key or variable it is about', () => {
    const oidc = { id: 'o', type: 'oidc', displayName: 'O', clientId: 'c', clientSecretEnv: 'G_SECRET', issuer: 'https://o.example.com' };
    const corpus: [unknown, Record<string, string>][] = [
      [[], {}], ['text', {}], [{ issuer: 'nope' }, {}], [{ issuer: 5 }, {}], [{ port: 'x' }, {}], [{ port: 70000 }, {}],
      [{ ttl: { authorizationCode: -1 } }, {}], [{ database: { sweepIntervalSeconds: 'x' } }, {}], [{ clients: 'x' }, {}], [{ clients: [1] }, {}],
      [{ clients: [{}] }, {}], [{ clients: [{ ...client, redirectUris: [] }] }, {}], [{ clients: [{ ...client, redirectUris: ['%%'] }] }, {}], [{ clients: [{ ...client, grantTypes: ['implicit'] }] }, {}],
      [{ upstreams: [{ type: 'oidc' }] }, {}], [{ upstreams: [{ ...oidc, issuer: 'not a url' }] }, {}], [{ upstreams: [{ ...oidc, id: 'Bad Id', scopes: 'openid' }] }, {}],
      [{ upstreams: [{ id: 'gh', type: 'github', clientId: 'c', clientSecretEnv: 'G_SECRET', baseUrl: 'nope', apiUrl: 'ftp://x' }] }, {}],
      [{ upstreams: [{ id: 'x', type: 'oauth2', displayName: 'X', clientId: 'c', clientSecretEnv: 'G_SECRET', authorizationUrl: 'a', tokenUrl: 'b', userinfoUrl: 'c' }] }, {}],
      [{ clients: [client] }, { PORT: '99999', DOORMAN_ISSUER: ':', DOORMAN_LOG_LEVEL: 'LOUD', DATABASE_URL: 'x' }],
    ];
    for (const [raw, e] of corpus) {
      const found = problems(raw, { ...env, ...e });
      assert.ok(found.length > 0);
      for (const p of found) assert.match(p, /^(\(root\)|[a-zA-Z]+(\[\d+\])?(\.[a-zA-Z]+(\[\d+\])?)*|[A-Z_]+): \S/, `${JSON.stringify(raw)}: ${p}`);
    }
  });

  it('when PORT and DOORMAN_ISSUER are set, then they win over the file', () => {
    const cfg = buildConfig({ port: 1234 }, { PORT: '4321', DOORMAN_ISSUER: 'https://login.example.com' });
    assert.equal(cfg.port, 4321);
    assert.equal(cfg.issuer, 'https://login.example.com');
  });
});
