import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { parse } from 'yaml';
import { configKeyTable } from '../../src/config/docs.ts';
import { buildConfig } from '../../src/config/load.ts';

it('when the config schema changes, then the README key table must be regenerated', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(configKeyTable()), 'README is out of date: paste the output of `npm run doorman -- config-docs`');
});

it('when the README shows a configuration, then it is one Doorman accepts', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const example = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
  const secretFile = join(mkdtempSync(join(tmpdir(), 'doorman-readme-')), 'github');
  writeFileSync(secretFile, 'secret');
  const raw = parse(example.replace('/run/secrets/github_client_secret', secretFile));
  const env = Object.fromEntries([...example.matchAll(/SecretEnv: (\w+)/g)].map((m) => [m[1]!, 'secret']));
  const config = buildConfig(raw, env);
  assert.deepEqual(config.upstreams.map((u) => u.type), ['google', 'github', 'facebook', 'oidc', 'oauth2']);
});
