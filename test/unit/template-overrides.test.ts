import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildConfig, ConfigError } from '../../src/config/load.ts';
import { createRenderer, type RenderContext } from '../../src/http/render.ts';

/** A stand-in for the Koa context: what render reads and writes. */
function pageContext(): RenderContext & { body: string } {
  const headers: Record<string, string> = {};
  return { status: 0, type: '', body: '', state: {}, query: {}, set: (k: string, v: string) => { headers[k] = v; }, get: () => '' } as never;
}

describe('when an organisation overrides some templates (ui.templatesDir)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'doorman-templates-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'partials'));
  writeFileSync(join(dir, 'home.eta'), `<% layout('./layout', { title: 'Acme home' }) %><p id="acme">Acme sign-in, <%= it.t('common.cancel') %></p>`);

  it('then a view found there is used, still inside the standard layout and with translations', () => {
    const ctx = pageContext();
    createRenderer({ ui: { templatesDir: dir } })(ctx, 'home', {});
    assert.match(ctx.body, /<p id="acme">Acme sign-in, Cancel<\/p>/);
    assert.match(ctx.body, /<html lang="en"/, 'the layout (not overridden) wraps it');
  });

  it('then views not found there are Doorman\'s own', () => {
    const ctx = pageContext();
    createRenderer({ ui: { templatesDir: dir } })(ctx, 'error', { message: 'error.not_found', code: 'not_found' });
    assert.match(ctx.body, /Error code: not_found/);
    assert.doesNotMatch(ctx.body, /Acme/);
  });

  it('then without the key nothing is overridden', () => {
    const ctx = pageContext();
    createRenderer({})(ctx, 'home', {});
    assert.doesNotMatch(ctx.body, /Acme/);
  });

  it('then a folder that does not exist is a config error naming the key', () => {
    assert.throws(() => buildConfig({ ui: { templatesDir: join(dir, 'missing') } }, {}),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('ui.templatesDir: no such folder')));
  });
});
