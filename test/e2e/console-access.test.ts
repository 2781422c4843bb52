import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setAdmin, setDisabled } from '../../src/accounts/admin.ts';
import { ALICE } from '../fakes/fake-google.ts';
import { Browser } from '../helpers/browser.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { startScenario, type Scenario } from '../helpers/start-doorman.ts';

/**
 * Who may use /admin, over plain HTTP: the role is read on every request, and the console
 * needs its own mark for the current Doorman session (idle timeout, console/session.ts).
 */
describe('when someone opens the admin console', () => {
  let s: Scenario;
  const url = (path = '') => new URL(`/admin${path}`, s.doorman.url);
  before(async () => {
    s = await startScenario({ config: { console: { sessionMinutes: 5 } } });
  });
  after(() => s.close());

  /** A browser signed in at /admin as Alice; resolves to it and the page it landed on. */
  async function signIn() {
    const browser = new Browser();
    const login = await browser.visit(url());
    const landed = await chooseUpstream(browser, login, 'google', ALICE.sub, {}, 'never');
    const accountId = (await s.doorman.db.identity.findUniqueOrThrow({ where: { provider_subject: { provider: 'google', subject: ALICE.sub } } })).accountId;
    return { browser, landed, accountId };
  }

  it('then the role is checked at every request: granting opens it, revoking or disabling closes it at once', async () => {
    const { browser, landed, accountId } = await signIn();
    assert.equal(landed.status, 403);
    assert.match(landed.body, /Not an administrator/);
    await setAdmin(s.doorman.db, accountId, true, 'test');
    const open = await browser.visit(url());
    assert.equal(open.status, 200);
    assert.match(open.body, /<h1>Accounts<\/h1>/);
    await setAdmin(s.doorman.db, accountId, false, 'test');
    assert.equal((await browser.visit(url())).status, 403);
    await setAdmin(s.doorman.db, accountId, true, 'test');
    await setDisabled(s.doorman.db, accountId, true, 'test');
    const disabled = await browser.request(url());
    assert.notEqual(disabled.status, 200);
    await setDisabled(s.doorman.db, accountId, false, 'test');
  });

  it('then without a live console mark (idle past console.sessionMinutes) it asks for a fresh sign-in', async () => {
    const { browser, accountId } = await signIn();
    await setAdmin(s.doorman.db, accountId, true, 'test');
    assert.equal((await browser.visit(url())).status, 200);
    const mark = (await browser.jar.getCookies(url().href)).find((c) => c.key === 'doorman.console');
    assert.ok(mark, 'the console sets its mark');
    assert.ok(mark.maxAge === 300 || (mark.expires instanceof Date && mark.expires.getTime() - Date.now() <= 300_000), 'the mark lives console.sessionMinutes');
    // The browser drops the mark when it expires; the Doorman session lives on.
    await browser.jar.setCookie(`doorman.console=; Path=/admin; Max-Age=0`, url().href);
    const again = await browser.request(url());
    assert.equal(again.status, 303);
    const to = new URL(again.headers.get('location')!);
    assert.equal(to.pathname, '/auth');
    assert.equal(to.searchParams.get('prompt'), 'login');
    assert.equal(to.searchParams.get('redirect_uri'), `${s.doorman.url}/admin/callback`);
  });

  it('then even a validly signed mark is refused once idle longer than console.sessionMinutes, or when made for another session', async () => {
    const { browser, accountId } = await signIn();
    await setAdmin(s.doorman.db, accountId, true, 'test');
    assert.equal((await browser.visit(url())).status, 200);
    const sessionId = (await browser.jar.getCookies(url().href)).find((c) => c.key === '_session')!.value;
    const uid = (await s.doorman.db.oidcModel.findFirstOrThrow({ where: { model: 'Session', id: sessionId } })).uid!;
    // Forge the mark as the server would sign it (koa cookies: Keygrip, HMAC-SHA1 of "name=value"), with the secret from the database.
    const secret = (await s.doorman.db.cookieSecret.findFirstOrThrow({ where: { state: 'current' } })).secret;
    const plant = async (value: string) => {
      const sig = createHmac('sha1', secret).update(`doorman.console=${value}`).digest('base64url');
      await browser.jar.setCookie(`doorman.console=${value}; Path=/admin`, url().href);
      await browser.jar.setCookie(`doorman.console.sig=${sig}; Path=/admin`, url().href);
    };
    await plant(`${uid}.${Date.now() - 60_000}`);
    assert.equal((await browser.request(url())).status, 200, 'a mark one minute old is accepted (the forgery is right)');
    await plant(`${uid}.${Date.now() - 6 * 60_000}`);
    const idle = await browser.request(url());
    assert.equal(idle.status, 303);
    assert.equal(new URL(idle.headers.get('location')!).searchParams.get('prompt'), 'login');
    await plant(`other-session-uid.${Date.now()}`);
    assert.equal((await browser.request(url())).status, 303);
  });

  it('then a callback whose state this browser did not start is refused', async () => {
    const browser = new Browser();
    const res = await browser.request(url('/callback?state=forged'));
    assert.equal(res.status, 400);
    assert.match(res.body, /could not be verified/);
  });
});
