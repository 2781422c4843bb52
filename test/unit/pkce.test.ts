import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { pkceChallenge } from '../../src/upstreams/pkce.ts';

describe('the PKCE challenge Doorman sends upstream', () => {
  it('then it is RFC 7636 Appendix B\'s S256 example', () => {
    assert.equal(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('then it equals openid-client\'s own for random verifiers', async () => {
    for (let i = 0; i < 20; i++) {
      const verifier = oidc.randomPKCECodeVerifier();
      assert.equal(pkceChallenge(verifier), await oidc.calculatePKCECodeChallenge(verifier));
    }
  });
});
