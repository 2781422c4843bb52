import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/free-port.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { APP, startScenario, type Scenario } from '../helpers/start-doorman.ts';
import { ALICE } from '../fakes/fake-google.ts';

/**
 * Interop with Apache's mod_auth_openidc (Debian's apache2 + libapache2-mod-auth-openidc),
 * configured the plain way: discovery URL, client id and secret, scopes with
 * offline_access, no PKCE setting (it then sends none) and no prompt. Apache runs in the
 * foreground with a config of its own on a free loopback port.
 */
const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const CLIENT_ID = 'apache-openidc';

interface Apache { origin: string; dir: string; close(): Promise<void> }

async function startApache(port: number, issuer: string, clientSecret: string): Promise<Apache> {
  if (!existsSync(APACHE) || !existsSync(`${MODULES}/mod_auth_openidc.so`)) {
    throw new Error('apache2 with mod_auth_openidc not found: apt-get install apache2 libapache2-mod-auth-openidc (README "Tests")');
  }
  const dir = mkdtempSync(join(tmpdir(), 'doorman-apache-'));
  chmodSync(dir, 0o755); // Apache's workers run as www-data
  mkdirSync(join(dir, 'htdocs', 'protected'), { recursive: true });
  writeFileSync(join(dir, 'htdocs', 'protected', 'index.html'), '<h1>Protected page</h1>\n');
  writeFileSync(join(dir, 'htdocs', 'bye.html'), '<h1>Signed out of the Apache app</h1>\n');
  const origin = `http://127.0.0.1:${port}`;
  writeFileSync(join(dir, 'apache.conf'), `
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile ${dir}/apache.pid
DefaultRuntimeDir ${dir}
ErrorLog ${dir}/error.log
LogLevel warn auth_openidc:${process.env.DOORMAN_TEST_LOG ? "debug" : "info"}
User www-data
Group www-data
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule authz_user_module ${MODULES}/mod_authz_user.so
LoadModule headers_module ${MODULES}/mod_headers.so
LoadModule mime_module ${MODULES}/mod_mime.so
LoadModule dir_module ${MODULES}/mod_dir.so
DirectoryIndex index.html
LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so
TypesConfig /etc/mime.types
DocumentRoot ${dir}/htdocs
# The test's browser is Node's fetch, which always sends Sec-Fetch-Mode: cors; a real
# browser's navigation says navigate, and mod_auth_openidc answers 401 instead of
# redirecting to anything that looks like an XHR.
RequestHeader set Sec-Fetch-Mode navigate early
RequestHeader set Sec-Fetch-Dest document early

OIDCProviderMetadataURL ${issuer}/.well-known/openid-configuration
OIDCClientID ${CLIENT_ID}
OIDCClientSecret ${clientSecret}
OIDCRedirectURI ${origin}/protected/redirect_uri
OIDCCryptoPassphrase ${randomBytes(24).toString('hex')}
OIDCScope "openid email profile offline_access"
OIDCInfoHook iat access_token id_token userinfo refresh_token
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
`);
  const child: ChildProcess = spawn(APACHE, ['-X', '-f', join(dir, 'apache.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = () => `${stderr}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`;
  // Bounded wait for Apache to listen.
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`apache2 exited: ${log()}`);
    if (await fetch(`${origin}/bye.html`).then((r) => r.ok, () => false)) break;
    if (attempt >= 100) throw new Error(`apache2 did not start: ${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    origin, dir,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
      if (!process.env.DOORMAN_TEST_LOG) rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Info { access_token: string; refresh_token?: string; id_token: Record<string, unknown>; userinfo?: Record<string, unknown> }

describe('when an Apache app signs people in through Doorman with mod_auth_openidc', () => {
  let s: Scenario;
  let apache: Apache;

  before(async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    s = await startScenario({ client: { clientId: CLIENT_ID, name: 'Apache App', redirectUris: [`${origin}/protected/redirect_uri`], postLogoutRedirectUris: [`${origin}/bye.html`] } });
    apache = await startApache(port, s.doorman.url, APP.clientSecret);
  });
  after(async () => {
    await apache?.close();
    await s?.close();
  });

  async function info(browser: Browser): Promise<Info> {
    const page = await browser.request(`${apache.origin}/protected/redirect_uri?info=json`);
    assert.equal(page.status, 200, page.body.slice(0, 300));
    return JSON.parse(page.body) as Info;
  }

  it('then it signs in without PKCE, gets claims and a refresh token without prompt=consent, refreshes and signs out', async () => {
    const browser = new Browser();
    const login = await browser.visit(`${apache.origin}/protected/`);
    const authRequest = browser.history.find((u) => u.origin === s.doorman.url && u.pathname === '/auth')!;
    assert.equal(authRequest.searchParams.has('code_challenge'), false, 'mod_auth_openidc sent no PKCE');
    assert.ok(authRequest.searchParams.get('nonce'));
    assert.equal(authRequest.searchParams.has('prompt'), false);

    const consent = await chooseUpstream(browser, login, 'google', ALICE.sub, {}, 'never');
    assert.match(consent.body, /Apache App wants to access your account[\s\S]*Access while you are away/);
    const page: Page = await browser.submit(consent, '/consent');
    assert.equal(page.status, 200, page.body.slice(0, 500));
    assert.match(page.body, /Protected page/);

    const first = await info(browser);
    const [account] = await s.db.query<{ id: string }>('SELECT "accountId" AS id FROM "Identity" WHERE subject = $1', [ALICE.sub]);
    assert.equal(first.id_token.sub, account!.id);
    assert.equal(first.userinfo?.email, 'alice@example.com');
    assert.ok(first.refresh_token, 'a refresh token without prompt=consent');

    const back = encodeURIComponent(`${apache.origin}/protected/`);
    const refreshed = await browser.visit(`${apache.origin}/protected/redirect_uri?refresh=${back}&access_token=${encodeURIComponent(first.access_token)}`);
    assert.match(refreshed.body, /Protected page/);
    const second = await info(browser);
    assert.notEqual(second.access_token, first.access_token, 'refreshed');
    assert.notEqual(second.refresh_token, first.refresh_token, 'rotated');

    const confirm = await browser.visit(`${apache.origin}/protected/redirect_uri?logout=${encodeURIComponent(`${apache.origin}/bye.html`)}`);
    assert.match(confirm.body, /Sign out\?/, confirm.body.slice(0, 300));
    const bye = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    assert.match(bye.body, /Signed out of the Apache app/);
    const again = await browser.visit(`${apache.origin}/protected/`);
    assert.match(again.body, /Continue with Google/, 'signed out of both: the login page shows again');
  });
});
