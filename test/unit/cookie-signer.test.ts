import assert from 'node:assert/strict';
import { it } from 'node:test';
// keygrip is what Koa's cookies would use (a dependency of `cookies`); its signatures are the reference.
import Keygrip from 'keygrip';
import { CookieSigner } from '../../src/http/cookie-signer.ts';

const SECRETS = ['current-secret-0123456789abcdef', 'previous-sécret-with-ünicode', 'oldest'];
const DATA = ['_session=abc', 'doorman.upstream=s1~s2~s3', '', 'x='.padEnd(3000, 'y'), 'ünï=çødé'];

it('when a cookie is signed, then the signature is keygrip\'s, byte for byte (cookies signed before stay valid)', () => {
  const signer = new CookieSigner(SECRETS);
  const keygrip = new Keygrip(SECRETS) as { sign(d: string): string; index(d: string, s: string): number };
  for (const data of DATA) {
    assert.equal(signer.sign(data), keygrip.sign(data), data.slice(0, 20));
    assert.equal(signer.index(data, keygrip.sign(data)), 0);
    for (const [i, secret] of SECRETS.entries()) {
      const older = (new Keygrip([secret]) as { sign(d: string): string }).sign(data);
      assert.equal(signer.index(data, older), i, `signed with secret ${i}`);
      assert.equal(keygrip.index(data, older), i);
    }
  }
});

it('when a signature is wrong, truncated, padded, of other data or not a string, then it is refused', () => {
  const signer = new CookieSigner(SECRETS);
  const good = signer.sign('_session=abc');
  for (const bad of [good.slice(0, -1), `${good}=`, `${good}x`, good.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), '', signer.sign('_session=abd')]) {
    assert.equal(signer.index('_session=abc', bad), -1, bad);
    assert.equal(signer.verify('_session=abc', bad), false);
  }
  assert.equal(signer.index('_session=abc', undefined), -1);
  assert.equal(new CookieSigner(['another secret']).verify('_session=abc', good), false);
});

it('when the secrets rotate in place, then signing uses the new first secret at once and retired secrets no longer verify', () => {
  const secrets = ['one', 'two'];
  const signer = new CookieSigner(secrets);
  const byOne = signer.sign('c=v');
  secrets.splice(0, secrets.length, 'three', 'one');
  assert.equal(signer.sign('c=v'), (new Keygrip(['three']) as { sign(d: string): string }).sign('c=v'));
  assert.equal(signer.index('c=v', byOne), 1, 'the previous secret still verifies');
  secrets.splice(0, secrets.length, 'three');
  assert.equal(signer.verify('c=v', byOne), false, 'a retired secret does not');
});
