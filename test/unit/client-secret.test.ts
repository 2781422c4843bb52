import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateClientSecret, hashClientSecret, isClientSecretValid } from '../../src/clients/secret.ts';

describe('when a database client\'s secret is checked against its stored hash', () => {
  it('then only the secret itself passes: not its hash, a prefix, another secret, or a non-string', () => {
    const secret = generateClientSecret();
    const stored = hashClientSecret(secret);
    assert.match(secret, /^[\w-]{43}$/);
    assert.ok(!stored.includes(secret));
    assert.equal(isClientSecretValid(secret, stored), true);
    for (const wrong of [stored, secret.slice(0, -1), `${secret} `, generateClientSecret(), '', undefined, 42, [secret]]) {
      assert.equal(isClientSecretValid(wrong, stored), false, String(wrong));
    }
  });

  it('then a stored value that is not one of our hashes never matches', () => {
    const secret = generateClientSecret();
    assert.equal(isClientSecretValid(secret, secret), false);
    assert.equal(isClientSecretValid(secret, ''), false);
  });

  it('then two secrets are never the same', () => {
    assert.equal(new Set(Array.from({ length: 100 }, generateClientSecret)).size, 100);
  });
});
