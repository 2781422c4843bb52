import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emailDomain, hintsFrom, orderForChooser, upstreamToSkipTo } from '../../src/interactions/upstream-choice.ts';

const ALLOWED = [{ id: 'google', domains: ['corp.example'] }, { id: 'github', domains: [] }];

describe('when Doorman decides whether to skip its login page', () => {
  const cases: [string, Parameters<typeof upstreamToSkipTo>[0], Record<string, unknown>, string | undefined][] = [
    ['one upstream allowed', [ALLOWED[1]!], {}, 'github'],
    ['no hint, two upstreams', ALLOWED, {}, undefined],
    ['idp_hint names an allowed upstream', ALLOWED, { idp_hint: 'github' }, 'github'],
    ['kc_idp_hint names an allowed upstream', ALLOWED, { kc_idp_hint: 'github' }, 'github'],
    ['idp_hint names an upstream the app may not use', ALLOWED, { idp_hint: 'facebook' }, undefined],
    ['login_hint in a listed domain, any case', ALLOWED, { login_hint: 'Ada@CORP.example' }, 'google'],
    ['login_hint in another domain', ALLOWED, { login_hint: 'ada@other.example' }, undefined],
    ['login_hint with KELVIN SIGN', ALLOWED, { login_hint: 'ada@corp.exampl\u212A' }, undefined],
    ['login_hint that is not an email', ALLOWED, { login_hint: 'corp.example' }, undefined],
    ['login_hint with two @', ALLOWED, { login_hint: 'a@corp.example@evil.example' }, undefined],
    ['login_hint that is not a string', ALLOWED, { login_hint: ['ada@corp.example'] }, undefined],
    ['oversized idp_hint', ALLOWED, { idp_hint: 'g'.repeat(10_000) }, undefined],
  ];
  for (const [name, allowed, params, expected] of cases) {
    it(`then ${name}: ${expected ?? 'the page'}`, () => assert.equal(upstreamToSkipTo(allowed, hintsFrom(params)), expected));
  }

  it('then an internationalized domain matches in either form', () => {
    assert.equal(emailDomain('kim@B\u00fccher.example'), 'xn--bcher-kva.example');
  });

  it('then the upstream used last comes first, the others keep config order, and an unknown one changes nothing', () => {
    const buttons = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    assert.deepEqual(orderForChooser(buttons, 'b'), { lastUsed: { id: 'b' }, others: [{ id: 'a' }, { id: 'c' }] });
    assert.deepEqual(orderForChooser(buttons, 'zzz'), { lastUsed: undefined, others: buttons });
  });
});
