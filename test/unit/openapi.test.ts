import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parse } from 'yaml';
import { createAdminRouter } from '../../src/admin/router.ts';
import { createLogger } from '../../src/log.ts';

it('when the admin router changes, then openapi.yaml describes exactly its routes', () => {
  const spec = parse(readFileSync(new URL('../../src/admin/openapi.yaml', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
    Object.keys(ops).filter((k) => k !== 'parameters').map((method) => `${method.toUpperCase()} /admin/api${path.replace(/\{(\w+)\}/g, ':$1')}`)).sort();
  const router = createAdminRouter({ provider: {} as never, db: {} as never, log: createLogger('silent'), config: {} as never, clients: {} as never, connectors: new Map(), upstreamCallNotes: {} as never });
  const served = router.stack.filter((layer) => layer.methods.length > 0 && !String(layer.path).endsWith('{*rest}'))
    .flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${layer.path}`)).sort();
  assert.deepEqual(served, documented);
});
