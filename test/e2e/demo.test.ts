import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_FACEBOOK_USERS, DEMO_GITHUB_USERS, DEMO_OIDC_USERS, DEMO_USERS, startDemo, type Demo } from '../../src/demo/demo.ts';
import { chooseUpstream } from '../helpers/sign-in.ts';
import { Browser } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { freePort } from '../../src/free-port.ts';
import { testLog } from '../helpers/start-doorman.ts';

describe('when the demo runs', () => {
  let db: TestDatabase;
  let demo: Demo;
  before(async () => {
    db = await createTestDatabase();
    demo = await startDemo({ port: await freePort(), env: { DATABASE_URL: db.url }, log: testLog });
  });
  after(async () => {
    await demo.close();
    await db.drop();
  });

  it('then a person signs in to the sample app through Doorman and the look-alike Google and sees the claims', async () => {
    const browser = new Browser();
    const home = await browser.visit(demo.url);
    assert.match(home.body, /Sign in/);
    const login = await browser.visit(new URL('/login', demo.url));
    assert.match(login.body, /Continue with Google \(demo\)/);
    const picker = await browser.submit(login, '/upstream/google');
    const consent = await browser.submit(picker, '/decide', { sub: DEMO_USERS[0]!.sub });
    assert.match(consent.body, /Sample app wants to access your account/);
    const signedIn = await browser.submit(consent, '/consent');
    assert.equal(signedIn.url.href, demo.url);
    assert.match(signedIn.body, /Claims received/);
    assert.match(signedIn.body, /ada@example.com/);
    assert.match(signedIn.body, /Ada Lovelace/);
  });

  it('then signing in through the OIDC look-alike prints no oidc-provider notices or warnings', async () => {
    // oidc-provider's notices go straight to console.info/console.warn (lib/helpers/attention.js),
    // once per process: this test comes before the other OIDC look-alike sign-in for that reason.
    const printed: string[] = [];
    const { info, warn } = console;
    console.info = (...args: unknown[]) => { printed.push(args.join(' ')); };
    console.warn = (...args: unknown[]) => { printed.push(args.join(' ')); };
    try {
      const browser = new Browser();
      const landed = await chooseUpstream(browser, await browser.visit(new URL('/login', demo.url)), 'oidc', DEMO_OIDC_USERS[0]!.sub, {}, 'never');
      const signedIn = /Sample app wants to access your account/.test(landed.body) ? await browser.submit(landed, '/consent') : landed;
      assert.match(signedIn.body, /Claims received/);
    } finally {
      Object.assign(console, { info, warn });
    }
    assert.deepEqual(printed.filter((line) => line.includes('oidc-provider')), []);
  });

  for (const [upstream, who, expected] of [
    ['github', DEMO_GITHUB_USERS[0]!.login, /github:example:engines/],
    ['facebook', DEMO_FACEBOOK_USERS[1]!.id, /grace@example\.com/],
    ['oidc', DEMO_OIDC_USERS[0]!.sub, /analysts/],
    ['oauth2', DEMO_GITHUB_USERS[0]!.login, /avatars\/1001/],
  ] as const) {
    it(`then a person signs in through the ${upstream} look-alike`, async () => {
      const browser = new Browser();
      const login = await browser.visit(new URL('/login', demo.url));
      const picker = await browser.submit(login, `/upstream/${upstream}`);
      assert.match(picker.body, /<title>Demo [^<]+ \(look-alike\)<\/title>/, 'each look-alike says what it stands in for');
      if (upstream === 'oauth2') assert.match(picker.body, /<title>Demo OAuth2 provider \(look-alike\)<\/title>/);
      const landed = await chooseUpstream(browser, login, upstream, who, {}, 'never');
      // The consent page shows unless this person's account already allowed the sample app
      // (the demo links GitHub and the example OIDC users to Ada's account: remembered).
      const signedIn = /Sample app wants to access your account/.test(landed.body) ? await browser.submit(landed, '/consent') : landed;
      assert.match(signedIn.body, /Claims received/);
      assert.match(signedIn.body, expected);
    });
  }

  it('then it refuses to start when NODE_ENV=production', async () => {
    await assert.rejects(startDemo({ port: await freePort(), env: { NODE_ENV: 'production', DATABASE_URL: db.url }, log: testLog }), /NODE_ENV=production/);
  });

  it('then closing it stops every server it started', async () => {
    const port = await freePort();
    const other = await startDemo({ port, env: { DATABASE_URL: db.url }, log: testLog });
    await other.close();
    await assert.rejects(fetch(`http://localhost:${port}/.well-known/openid-configuration`));
    await assert.rejects(fetch(other.url));
  });
});
