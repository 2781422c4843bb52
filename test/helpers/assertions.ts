import assert from 'node:assert/strict';
import type { Page } from './browser.ts';
import type { Scenario } from './start-doorman.ts';

/** Rows in the accounts tables: refused logins must leave this unchanged. */
export async function accountRowCount(s: Scenario): Promise<number> {
  const [row] = await s.db.query<{ n: number }>('SELECT (SELECT count(*) FROM "Account") + (SELECT count(*) FROM "Identity") AS n');
  return Number(row!.n);
}

/** Doorman's error page, with its status, its code and no caching. */
export function assertErrorPage(page: Page, status: number, code: string): void {
  assert.equal(page.status, status, page.body);
  assert.match(page.body, new RegExp(`Error code: ${code}`));
  assert.equal(page.headers.get('cache-control'), 'no-store');
}
