import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { ARTIFACTS_DIR } from './chromium.ts';

/**
 * axe-core in Chromium at a desktop and a phone width: no serious or critical violation,
 * and nothing wider than a 360 px screen. Screenshots in test/artifacts/a11y-<name>-*.png.
 */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WIDTHS = [['desktop', 1280], ['phone', 360]] as const;

interface AxeResult { violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }

/** Runs axe in the page. page.evaluate is not subject to the page's CSP (which allows no script). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<AxeResult> } }).axe.run());
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

export async function checkPage(page: Page, name: string): Promise<void> {
  for (const [label, width] of WIDTHS) {
    await page.setViewportSize({ width, height: 800 });
    assert.deepEqual(await seriousViolations(page), [], `${name} at ${width} px`);
    const scrollWidth = await page.evaluate(() => document.scrollingElement!.scrollWidth);
    assert.ok(scrollWidth <= width, `${name} is ${scrollWidth} px wide at ${width} px`);
    await page.screenshot({ path: `${ARTIFACTS_DIR}a11y-${name}-${label}.png`, fullPage: true });
  }
}
