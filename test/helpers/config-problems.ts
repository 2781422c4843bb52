import assert from 'node:assert/strict';
import { buildConfig, ConfigError } from '../../src/config/load.ts';

/** The `key.path: message` lines a config is refused with; fails the test when it is accepted. */
export function configProblems(raw: unknown, env: Record<string, string>): string[] {
  try {
    buildConfig(raw, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}
