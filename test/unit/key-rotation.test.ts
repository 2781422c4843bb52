import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planKeySteps, type KeyRecord, type KeyStep, type RotationPolicy } from '../../src/keys/rotation.ts';

const DAY = 24 * 3600 * 1000;
const NOW = new Date('2026-11-22T12:00:00Z');
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY);
const POLICY: RotationPolicy = { rotateEveryMs: 90 * DAY, keepPreviousMs: 14 * DAY };

function key(id: string, state: KeyRecord['state'], opts: { activated?: number; deactivated?: number; alg?: string } = {}): KeyRecord {
  return {
    id, state, alg: opts.alg ?? 'RS256', createdAt: daysAgo(200),
    activatedAt: opts.activated === undefined ? null : daysAgo(opts.activated),
    deactivatedAt: opts.deactivated === undefined ? null : daysAgo(opts.deactivated),
  };
}

describe('planKeySteps', () => {
  const cases: { when: string; keys: KeyRecord[]; policy?: RotationPolicy; force?: boolean; then: KeyStep[] }[] = [
    { when: 'there are no keys (first start)', keys: [], then: [{ kind: 'create', state: 'current' }, { kind: 'create', state: 'next' }] },
    { when: 'the current key is within its period and a next key exists', keys: [key('a', 'current', { activated: 10 }), key('b', 'next')], then: [] },
    { when: 'there is no next key (a database from before rotation)', keys: [key('a', 'current', { activated: 10 })], then: [{ kind: 'create', state: 'next' }] },
    {
      when: 'the current key has served its period',
      keys: [key('a', 'current', { activated: 90 }), key('b', 'next')],
      then: [{ kind: 'demote', id: 'a' }, { kind: 'promote', id: 'b' }, { kind: 'create', state: 'next' }],
    },
    {
      when: 'a rotation is forced (doorman keys rotate)',
      keys: [key('a', 'current', { activated: 1 }), key('b', 'next')], force: true,
      then: [{ kind: 'demote', id: 'a' }, { kind: 'promote', id: 'b' }, { kind: 'create', state: 'next' }],
    },
    {
      when: 'a previous key is still inside its overlap',
      keys: [key('a', 'current', { activated: 13 }), key('b', 'next'), key('p', 'previous', { deactivated: 13 })], then: [],
    },
    {
      when: 'a previous key\'s overlap is over',
      keys: [key('a', 'current', { activated: 14 }), key('b', 'next'), key('p', 'previous', { deactivated: 14 })],
      then: [{ kind: 'retire', id: 'p' }],
    },
    { when: 'a retired key is left', keys: [key('a', 'current', { activated: 1 }), key('b', 'next'), key('r', 'retired', { deactivated: 400 })], then: [] },
    {
      when: 'two keys are current (a manual edit): the newest wins',
      keys: [key('old', 'current', { activated: 20 }), key('new', 'current', { activated: 2 }), key('b', 'next')],
      then: [{ kind: 'demote', id: 'old' }],
    },
    {
      when: 'the configured algorithm differs from the current key\'s (checked at start)',
      keys: [key('a', 'current', { activated: 1 }), key('b', 'next')], policy: { ...POLICY, algorithm: 'ES256' },
      then: [{ kind: 'retire', id: 'b' }, { kind: 'demote', id: 'a' }, { kind: 'create', state: 'current' }, { kind: 'create', state: 'next' }],
    },
    {
      when: 'the algorithm differs but is not checked (a periodic refresh)',
      keys: [key('a', 'current', { activated: 1 }), key('b', 'next')], then: [],
    },
  ];
  for (const c of cases) {
    it(`when ${c.when}, then ${c.then.length ? c.then.map((s) => s.kind).join(', ') : 'nothing changes'}`, () => {
      assert.deepEqual(planKeySteps(c.keys, NOW, c.policy ?? POLICY, c.force), c.then);
    });
  }
});
