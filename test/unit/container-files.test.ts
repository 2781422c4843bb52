import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { execForm, parseDockerfile } from '../helpers/dockerfile.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

/** The Dockerfile and docker-compose.yml cannot be run here (no Docker engine): their shape is checked. */
describe('the Dockerfile', () => {
  const stages = parseDockerfile(`${ROOT}Dockerfile`);
  const build = stages.find((s) => s.name === 'build');
  const runtime = stages.at(-1)!;
  const args = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

  it('builds on the official Node 24 LTS image in two stages', () => {
    assert.ok(build, 'a stage named build');
    for (const stage of stages) assert.match(stage.from, /^node:24(\.|-|$)/);
    const buildRuns = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    assert.ok(buildRuns.some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev')), 'npm ci with dev dependencies to compile');
    assert.ok(buildRuns.some((r) => /\bnpm run build\b/.test(r)));
  });

  it('ships only production dependencies, the compiled code, the views, the translations and the migrations', () => {
    assert.ok(args('RUN').some((r) => /\bnpm ci\b.*--omit=dev/.test(r)));
    assert.ok(args('COPY').some((c) => /^--from=build\s+\/app\/dist\s/.test(c)));
    assert.ok(args('COPY').includes('views ./views'));
    assert.ok(args('COPY').includes('locales ./locales'), 'the translations the pages are rendered with');
    assert.ok(args('COPY').includes('prisma/migrations ./prisma/migrations'));
    assert.ok(!args('COPY').some((c) => /^src\b|^\.\s/.test(c)), 'no source tree in the runtime image');
  });

  it('runs Node on the compiled entry as a non-root user, under an init, with a health check on /healthz', () => {
    const user = args('USER').at(-1);
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `non-root USER, got ${user}`);
    assert.deepEqual(execForm(args('ENTRYPOINT').at(-1)!), ['/usr/bin/tini', '--']);
    assert.deepEqual(execForm(args('CMD').at(-1)!), ['node', 'dist/main.js']);
    const health = args('HEALTHCHECK').at(-1) ?? '';
    assert.match(health, /\/healthz/);
    assert.doesNotMatch(`${args('CMD')} ${args('ENTRYPOINT')} ${health}`, /\bnpm\b|\bnpx\b|tsx/, 'nothing at start that reaches a registry or compiles');
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(`${ROOT}docker-compose.yml`, 'utf8')) as { services: Record<string, Record<string, unknown>> };
  const postgres = compose.services.postgres ?? {};
  const doorman = compose.services.doorman ?? {};

  it('runs PostgreSQL with a health check and Doorman from the image once it is healthy', () => {
    assert.ok(compose.services.postgres && compose.services.doorman);
    assert.ok((postgres.healthcheck as { test: string[] }).test.join(' ').includes('pg_isready'));
    assert.deepEqual(doorman.depends_on, { postgres: { condition: 'service_healthy' } });
    assert.equal(doorman.build, '.', 'built from this Dockerfile');
    assert.equal(doorman.command, undefined, 'the image\'s own command (no npm install at start)');
    for (const service of [postgres, doorman]) assert.equal(service.restart, 'unless-stopped');
  });

  it('mounts the configuration and secrets read-only, never the source tree', () => {
    const volumes = doorman.volumes as string[];
    const env = doorman.environment as Record<string, string>;
    assert.ok(volumes.includes(`./doorman.yaml:${env.DOORMAN_CONFIG}:ro`));
    assert.ok(volumes.some((v) => /^\.\/secrets:\/run\/secrets:ro$/.test(v)));
    assert.ok(!volumes.some((v) => /^\.\/?:/.test(v) || v.includes('node_modules')), `no source mount: ${volumes.join(', ')}`);
    assert.match(env.DATABASE_URL ?? '', /@postgres:5432\//);
  });
});
