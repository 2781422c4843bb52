import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalEmail } from '../../src/accounts/email.ts';

describe('canonicalEmail', () => {
  const table: [string, string, string | undefined][] = [
    ['a plain address stays as it is', 'kim@example.com', 'kim@example.com'],
    ['ASCII uppercase is lowercased on both sides', 'Kim@Example.COM', 'kim@example.com'],
    ['a KELVIN SIGN (U+212A) in the local part has no canonical form (toLowerCase makes it "k")', '\u212Aim@example.com', undefined],
    ['a KELVIN SIGN in the domain has no canonical form (IDNA maps it to "k")', 'kim@\u212Aexample.com', undefined],
    ['a dotless i in the local part has no canonical form', '\u0131an@example.com', undefined],
    ['a capital I with dot in the local part has no canonical form', '\u0130an@example.com', undefined],
    ['fullwidth letters in the local part have no canonical form', '\uFF4Bim@example.com', undefined],
    ['fullwidth letters in the domain have no canonical form (IDNA maps them to ASCII)', 'kim@\uFF45xample.com', undefined],
    ['a combining accent in the local part has no canonical form', 'ke\u0301vin@example.com', undefined],
    ['a decomposed é in the domain has no canonical form (it is not the U-label)', 'kim@bu\u0308cher.example', undefined],
    ['a NUL byte has no canonical form', 'kim\u0000@example.com', undefined],
    ['a NUL byte in the domain has no canonical form', 'kim@example.com\u0000', undefined],
    ['a newline has no canonical form', 'kim@example.com\n', undefined],
    ['an IDN domain in Unicode becomes its A-label', 'kim@b\u00fccher.example', 'kim@xn--bcher-kva.example'],
    ['the same IDN domain in punycode gives the same form', 'Kim@XN--BCHER-KVA.example', 'kim@xn--bcher-kva.example'],
    ['a dotless i in the domain is another domain, not iexample.com', 'kim@\u0131example.com', 'kim@xn--example-qfb.com'],
    ['a quoted local part has no canonical form', '"kim"@example.com', undefined],
    ['a quoted local part with an @ has no canonical form', '"kim@example.com"@evil.example', undefined],
    ['dots and plus tags are kept (they are the mailbox provider\'s business)', 'K.im+doorman@example.com', 'k.im+doorman@example.com'],
    ['a local part of 64 octets is fine', `${'k'.repeat(64)}@example.com`, `${'k'.repeat(64)}@example.com`],
    ['a local part of 65 octets has no canonical form', `${'k'.repeat(65)}@example.com`, undefined],
    ['an address over 254 octets has no canonical form', `kim@${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example`, undefined],
    ['a very long input has no canonical form', `${'k'.repeat(100_000)}@example.com`, undefined],
    ['no @ at all', 'kim.example.com', undefined],
    ['an empty local part', '@example.com', undefined],
    ['an empty domain', 'kim@', undefined],
    ['a domain literal', 'kim@[127.0.0.1]', undefined],
    ['a trailing dot in the domain', 'kim@example.com.', undefined],
    ['an underscore in the domain', 'kim@exa_mple.com', undefined],
    ['a label starting with a hyphen', 'kim@-example.com', undefined],
    ['two dots in a row in the local part', 'k..im@example.com', undefined],
    ['spaces around the address', ' kim@example.com', undefined],
  ];
  for (const [name, input, expected] of table) {
    it(`when ${name}`, () => assert.equal(canonicalEmail(input), expected));
  }

  it('when the Kelvin-sign address is compared with kim\'s, then they differ', () => {
    assert.notEqual(canonicalEmail('\u212Aim@example.com'), canonicalEmail('kim@example.com'));
  });
});
