import type { Context } from 'koa';
import { findAccountState } from '../accounts/repository.ts';
import type { Broker } from '../interactions/broker.ts';
import { currentSession, redirectToSignIn } from '../self-service/session.ts';

/**
 * Who may use the console, checked on every request: a Doorman session (signed in the
 * Account page's way, self-service/session.ts), a console mark for that very session that
 * has not been idle longer than `console.sessionMinutes`, and an account that holds the
 * admin role and is neither disabled nor retired. A missing or stale mark sends the
 * browser to sign in afresh (prompt=login): an unattended, still signed-in browser does
 * not keep the console open.
 */
const MARK_COOKIE = 'doorman.console';

export interface ConsoleAdmin {
  accountId: string;
  /** The audit actor of every action: the same form as the admin API's. */
  actor: string;
  csrf: string;
  /** The Doorman session this console visit belongs to (what its forms' CSRF tokens are bound to). */
  sessionUid: string;
}

export type ConsoleAccess = { kind: 'admin'; admin: ConsoleAdmin } | { kind: 'redirected' } | { kind: 'forbidden' };

export async function checkConsoleAccess(broker: Broker, ctx: Context): Promise<ConsoleAccess> {
  const session = await currentSession(broker.provider, ctx);
  if (!session) {
    redirectToSignIn(broker.config.issuer, ctx, '/admin');
    return { kind: 'redirected' };
  }
  const mark = readMark(ctx);
  const idleMs = broker.config.console.sessionMinutes * 60_000;
  const now = Date.now();
  if (!mark || mark.sessionUid !== session.uid || now - mark.lastSeen > idleMs || mark.lastSeen > now + 60_000) {
    clearMark(ctx);
    redirectToSignIn(broker.config.issuer, ctx, '/admin', { prompt: 'login' });
    return { kind: 'redirected' };
  }
  const account = await findAccountState(broker.db, session.accountId);
  if (!account?.admin || account.disabledAt || account.retiredAt) return { kind: 'forbidden' };
  setMark(ctx, broker, session.uid, now);
  return { kind: 'admin', admin: { accountId: account.id, actor: `account:${account.id}`, csrf: broker.csrf.tokenFor(`console:${session.uid}`), sessionUid: session.uid } };
}

/** After the console's sign-in: the session that just signed in may use the console from now. */
export async function startConsoleSession(broker: Broker, ctx: Context): Promise<boolean> {
  const session = await currentSession(broker.provider, ctx);
  if (!session) return false;
  setMark(ctx, broker, session.uid, Date.now());
  return true;
}

/** CSRF token check for a console form, bound to the Doorman session checkConsoleAccess already loaded. */
export function isConsoleFormValid(broker: Broker, admin: ConsoleAdmin, token: unknown): boolean {
  return broker.csrf.isValid(`console:${admin.sessionUid}`, token);
}

function setMark(ctx: Context, broker: Broker, sessionUid: string, lastSeen: number): void {
  ctx.cookies.set(MARK_COOKIE, `${sessionUid}.${lastSeen}`, {
    path: '/admin', httpOnly: true, sameSite: 'lax', signed: true, maxAge: broker.config.console.sessionMinutes * 60_000,
    secure: broker.config.issuer.startsWith('https:'),
  });
}

function clearMark(ctx: Context): void {
  ctx.cookies.set(MARK_COOKIE, null, { path: '/admin', signed: true });
}

function readMark(ctx: Context): { sessionUid: string; lastSeen: number } | undefined {
  const value = ctx.cookies.get(MARK_COOKIE, { signed: true });
  const match = value ? /^([\w-]+)\.(\d{1,15})$/.exec(value) : null;
  return match ? { sessionUid: match[1]!, lastSeen: Number(match[2]) } : undefined;
}
