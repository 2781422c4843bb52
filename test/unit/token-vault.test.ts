import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildConfig, ConfigError } from '../../src/config/load.ts';
import { createTokenCipher, TokenVaultKeyError } from '../../src/token-vault/cipher.ts';

const k1 = { id: 'k1', secret: randomBytes(32).toString('base64'), retired: true };
const k2 = { id: 'k2', secret: randomBytes(32).toString('base64'), retired: false };

describe('token vault cipher (AES-256-GCM)', () => {
  it('when sealed with the current key, then it opens for the same identity and names its key', () => {
    const cipher = createTokenCipher([k2, k1]);
    const { keyId, sealed } = cipher.seal('{"a":"ghu_secret"}', 'identity-1');
    assert.equal(keyId, 'k2');
    assert.ok(!sealed.includes('ghu_secret'));
    assert.equal(cipher.open(keyId, sealed, 'identity-1'), '{"a":"ghu_secret"}');
  });

  it('when the same plaintext is sealed twice, then the two differ (a fresh IV each time)', () => {
    const cipher = createTokenCipher([k2]);
    assert.notEqual(cipher.seal('x', 'i').sealed, cipher.seal('x', 'i').sealed);
  });

  it('when a row was sealed with a key now retired, then it still opens', () => {
    const old = createTokenCipher([{ ...k1, retired: false }]).seal('old', 'identity-1');
    assert.equal(createTokenCipher([k2, k1]).open(old.keyId, old.sealed, 'identity-1'), 'old');
  });

  it('when a sealed value is moved to another identity, altered, or its key is gone, then it does not open', () => {
    const cipher = createTokenCipher([k2]);
    const { keyId, sealed } = cipher.seal('token', 'identity-1');
    assert.throws(() => cipher.open(keyId, sealed, 'identity-2'), TokenVaultKeyError);
    const flipped = `${sealed.slice(0, -2)}${sealed.endsWith('AA') ? 'AB' : 'AA'}`;
    assert.throws(() => cipher.open(keyId, flipped, 'identity-1'), TokenVaultKeyError);
    assert.throws(() => createTokenCipher([{ ...k1, retired: false }]).open(keyId, sealed, 'identity-1'), /key "k2" is not in tokenVault.keys/);
    assert.throws(() => cipher.open(keyId, 'plain-text', 'identity-1'), TokenVaultKeyError);
  });
});

describe('token vault configuration', () => {
  const github = { id: 'github', type: 'github', clientId: 'Iv1', clientSecretEnv: 'GH', storeTokens: true };
  const client = { clientId: 'wiki', clientSecretEnv: 'W', redirectUris: ['https://wiki.example.com/cb'], upstreamTokens: [{ upstream: 'github', scopes: ['read:user'] }] };
  const env = { GH: 'g', W: 'w', DOORMAN_TOKEN_VAULT_KEY: randomBytes(32).toString('base64') };
  const problems = (raw: unknown, e: Record<string, string>) => {
    try {
      buildConfig(raw, e);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('when an upstream stores tokens, then the default key comes from DOORMAN_TOKEN_VAULT_KEY', () => {
    const cfg = buildConfig({ clients: [client], upstreams: [github] }, env);
    assert.deepEqual(cfg.tokenVault.keys.map((k) => [k.id, k.secret]), [['default', env.DOORMAN_TOKEN_VAULT_KEY]]);
  });

  it('when the key is missing or not 32 bytes of base64, then the problem names the key', () => {
    assert.deepEqual(problems({ upstreams: [github] }, { GH: 'g' }), ['tokenVault.keys[0].secretEnv: environment variable DOORMAN_TOKEN_VAULT_KEY is not set']);
    assert.deepEqual(problems({ upstreams: [github] }, { GH: 'g', DOORMAN_TOKEN_VAULT_KEY: 'hunter2' }),
      ['tokenVault.keys[0].secretEnv: DOORMAN_TOKEN_VAULT_KEY must hold 32 random bytes in base64 (openssl rand -base64 32)']);
  });

  it('when no upstream stores tokens, then no key is read', () => {
    assert.deepEqual(problems({ upstreams: [{ ...github, storeTokens: false }] }, { GH: 'g' }), []);
  });

  it('when a google upstream has signOutUpstream without storeTokens, then the problem names signOutUpstream; with it, the config loads', () => {
    const google = { id: 'google', type: 'google', clientId: 'c', clientSecretEnv: 'GH', signOutUpstream: true };
    assert.deepEqual(problems({ upstreams: [google] }, env), ['upstreams[0].signOutUpstream: needs storeTokens: true on a google upstream (what it revokes is the Google tokens Doorman keeps)']);
    assert.equal(buildConfig({ upstreams: [{ ...google, storeTokens: true }] }, env).upstreams[0]!.id, 'google');
  });

  it('when two keys encrypt, ids repeat, or a client asks for an upstream that keeps nothing or is public, then each is named', () => {
    const keys = [{ id: 'a', secretEnv: 'A' }, { id: 'a', secretEnv: 'B' }];
    const found = problems({
      tokenVault: { keys },
      upstreams: [github, { id: 'google', type: 'google', clientId: 'c', clientSecretEnv: 'GH' }],
      clients: [client, { clientId: 'spa', redirectUris: ['https://spa.example.com/cb'], upstreamTokens: [{ upstream: 'google', scopes: ['openid'] }] }],
    }, env);
    assert.deepEqual(found.sort(), [
      'clients[1].upstreamTokens: token exchange needs a confidential client (set clientSecretEnv)',
      'clients[1].upstreamTokens[0].upstream: upstream "google" does not keep tokens (set storeTokens: true on it)',
      'tokenVault.keys: only one key may encrypt: mark the others retired: true',
      'tokenVault.keys[1].id: duplicate token vault key id "a"',
    ]);
  });
});
