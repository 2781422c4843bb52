import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { ALICE, OUTSIDER } from '../fakes/fake-google.ts';
import { Browser, type Page } from '../helpers/browser.ts';
import { runCli } from '../helpers/processes.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * README "Administration", "An admin token for the API": the admin CLI client of the README
 * (read from its YAML block), the device flow done with plain HTTP requests as its curl lines
 * do, and the token calling the admin API. Only an account with the admin role gets in.
 */
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const recipe = README.slice(README.indexOf('### An admin token for the API'));
const ADMIN_CLI = (parse(/```yaml\n([\s\S]*?)```/.exec(recipe)![1]!) as { clients: Record<string, unknown>[] }).clients[0]!;

/** The form on `page` that posts `field` (the device confirmation page has two forms). */
function formWith(page: Page, field: string): Page {
  const form = [...page.body.matchAll(/<form[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes(`name="${field}"`));
  assert.ok(form, `no form with ${field}`);
  return { ...page, body: form };
}

describe('when an admin gets a token for the admin API as the README shows', () => {
  let s: Scenario;
  const post = async (path: string, form: Record<string, string>) => {
    const res = await fetch(new URL(path, s.doorman.url), { method: 'POST', body: new URLSearchParams(form) });
    return { status: res.status, body: await res.json() as Record<string, string> };
  };

  before(async () => {
    s = await startScenario({ moreClients: [ADMIN_CLI] });
  });
  after(() => s.close());

  /** The README's steps: /device/auth, the person approves in a browser, /token. */
  async function deviceToken(who: string): Promise<string> {
    const clientId = String(ADMIN_CLI.clientId);
    const started = await post('/device/auth', { client_id: clientId, scope: 'openid admin' });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const browser = new Browser();
    const confirm = await browser.visit(started.body.verification_uri_complete!);
    const entered = confirm.body.includes('name="confirm"') ? confirm : await browser.submit(confirm, '/device', { user_code: started.body.user_code! });
    await chooseUpstream(browser, await browser.submit(formWith(entered, 'confirm'), '/device'), 'google', who);
    const token = await post('/token', { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', client_id: clientId, device_code: started.body.device_code! });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    assert.match(token.body.scope!, /\badmin\b/);
    return token.body.access_token!;
  }

  const accounts = (token: string) => fetch(new URL('/admin/api/accounts', s.doorman.url), { headers: { authorization: `Bearer ${token}` } });

  it('then an account with the admin role gets a token that reads the accounts', async () => {
    await deviceToken(ALICE.sub); // the first sign-in makes the account
    const [account] = await s.db.query<{ id: string }>('SELECT "accountId" AS id FROM "Identity" WHERE subject = $1', [ALICE.sub]);
    const granted = await runCli(['accounts', 'grant-admin', account!.id], { DATABASE_URL: s.db.url });
    assert.equal(granted.code, 0, granted.output);
    const res = await accounts(await deviceToken(ALICE.sub));
    assert.equal(res.status, 200);
    assert.ok(Array.isArray((await res.json() as { accounts: unknown[] }).accounts));
  });

  it('then an account without the role gets its token refused with 403', async () => {
    const res = await accounts(await deviceToken(OUTSIDER.sub));
    assert.equal(res.status, 403);
  });
});
