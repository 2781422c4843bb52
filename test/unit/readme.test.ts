import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { configKeyTable } from '../../src/config/docs.ts';

it('when the config schema changes, then the README key table must be regenerated', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(configKeyTable()), 'README is out of date: paste the output of `npm run doorman -- config-docs`');
});
