import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { parse } from 'yaml';
import { configKeyTable } from '../../src/config/docs.ts';
import { buildConfig } from '../../src/config/load.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Every ```yaml block of the README, with the line it starts on (for the failure message). */
function yamlExamples(): { line: number; text: string }[] {
  return [...readme.matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => ({ line: readme.slice(0, m.index).split('\n').length, text: m[1]! }));
}

/** What the reader's deployment supplies: each variable the example names, and its secret files. */
function environmentFor(text: string): { text: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'doorman-readme-'));
  const withFiles = text.replace(/\/run\/secrets\/\w+/g, (path) => {
    const file = join(dir, path.replace(/\W/g, '_'));
    writeFileSync(file, 'secret');
    return file;
  });
  const key = Buffer.alloc(32, 7).toString('base64'); // good as a client secret and as a token-vault key
  const names = [...withFiles.matchAll(/[sS]ecretEnv: (\w+)/g)].map((m) => m[1]!);
  return { text: withFiles, env: Object.fromEntries([...names, 'UPSTREAM_SECRET', 'DOORMAN_TOKEN_VAULT_KEY'].map((name) => [name, key])) };
}

/** A block marked `# ...` elides an app's or upstream's usual keys: add them, nothing else. */
function completeElided(raw: Record<string, unknown>): Record<string, unknown> {
  const clients = ((raw.clients ?? []) as Record<string, unknown>[]).map((c) => (c.redirectUris || c.grantTypes ? c : { ...c, redirectUris: ['https://app.example.com/callback'] }));
  const named = new Set(clients.map((c) => c.clientId));
  for (const api of (raw.resourceServers ?? []) as { clients?: string[] }[]) {
    for (const clientId of api.clients ?? []) if (!named.has(clientId)) { clients.push({ clientId, redirectUris: ['https://app.example.com/callback'] }); named.add(clientId); }
  }
  const upstreams = ((raw.upstreams ?? []) as Record<string, unknown>[]).map((u) => ({ clientId: 'doorman', ...(u.clientSecretFile ? {} : { clientSecretEnv: 'UPSTREAM_SECRET' }), ...(u.type === 'oidc' ? { issuer: 'https://idp.example.com' } : {}), ...u }));
  return { ...raw, ...(raw.clients || clients.length ? { clients } : {}), ...(raw.upstreams ? { upstreams } : {}) };
}

it('when the config schema changes, then the README key table must be regenerated', () => {
  assert.ok(readme.includes(configKeyTable()), 'README is out of date: paste the output of `npm run doorman -- config-docs`');
});

it('when the README shows its full configuration, then it is one Doorman accepts as is', () => {
  const [first] = yamlExamples();
  const { text, env } = environmentFor(first!.text);
  const config = buildConfig(parse(text), env);
  assert.deepEqual(config.upstreams.map((u) => u.type), ['google', 'github', 'facebook', 'oidc', 'oauth2']);
});

it('when any README section shows YAML, then Doorman accepts it (elided "# ..." keys filled in)', () => {
  const examples = yamlExamples();
  assert.ok(examples.length >= 12, `found only ${examples.length} YAML examples: has a fence lost its "yaml"?`);
  const problems: string[] = [];
  for (const { line, text: original } of examples) {
    const { text, env } = environmentFor(original);
    const raw = parse(text) as Record<string, unknown>;
    try {
      buildConfig(text.includes('# ...') ? completeElided(raw) : raw, env);
    } catch (error) {
      problems.push(`README.md:${line}: ${(error as Error).message}`);
    }
  }
  assert.deepEqual(problems, []);
});

it('when the README names a config key in backquotes, then the key table has it', () => {
  const table = configKeyTable();
  // `upstreams[] (type: github).autoLink` is written `upstreams[].autoLink` in prose
  const keys = new Set([...table.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]!.replace(/ \(type: \w+\)/, '')));
  const sections = new Set([...keys].flatMap((k) => k.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.'))));
  const prose = readme.replace(table, '');
  const dotted = [...prose.matchAll(/`([a-z][A-Za-z]+(?:\[\])?(?:\.[a-z][A-Za-z]+(?:\[\])?)+)(?::[^`]*)?`/g)].map((m) => m[1]!);
  const topLevel = new Set([...keys].filter((k) => /^[\w[\]]+\./.test(k)).map((k) => k.split('.')[0]!)); // ttl, ui, clients[] ...
  const auditEvents = new Set(['keys.rotated']); // spelled like a key, but an audit event's name
  const unknown = [...new Set(dotted.filter((k) => !auditEvents.has(k) && topLevel.has(k.split('.')[0]!) && !sections.has(k)))];
  assert.deepEqual(unknown, []);
});

it('when src/ gains a folder, then the README Layout section names it', () => {
  const layout = readme.slice(readme.indexOf('## Layout'));
  const folders = readdirSync(new URL('../../src/', import.meta.url), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== 'generated') // generated: Prisma's client, not ours
    .map((entry) => entry.name);
  assert.deepEqual(folders.filter((name) => !new RegExp(`^  ${name}/`, 'm').test(layout)), []);
});

it('when the README gains or renames a section, then its table of contents follows', () => {
  const contents = readme.slice(readme.indexOf('## Contents'), readme.indexOf('## Quick start'));
  const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]!).filter((title) => title !== 'Contents');
  const listed = [...contents.matchAll(/\[([^\]]+)\]\(#[^)]+\)/g)].map((m) => m[1]!);
  assert.deepEqual(listed.filter((title) => sections.includes(title)), sections, 'every "## " section, in order');
});

it('when the README names a migration, then prisma/migrations has it', () => {
  const migrations = new Set(readdirSync(new URL('../../prisma/migrations/', import.meta.url)));
  const named = [...readme.matchAll(/`(\d{14}_\w+)`/g)].map((m) => m[1]!);
  assert.ok(named.length > 0);
  assert.deepEqual(named.filter((name) => !migrations.has(name)), []);
});

it('when the README links to one of its sections, then the section exists', () => {
  const slug = (title: string) => title.toLowerCase().replace(/[^\w\- ]/g, '').replaceAll(' ', '-'); // GitHub's anchors
  const anchors = new Set([...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => slug(m[1]!)));
  const links = [...readme.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
  assert.ok(links.length > 10);
  assert.deepEqual(links.filter((anchor) => !anchors.has(anchor)), []);
});
