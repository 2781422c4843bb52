import type { Context } from 'koa';

/**
 * The login page (GET /interaction/:uid) starts the upstream login itself when there is
 * nothing to choose (interactions/login.ts), instead of redirecting to the button's URL:
 * one round trip less. Only the page knows whether it starts one, so the rate-limit
 * middleware leaves the count here for it; such a start counts against loginStartsPerIp
 * exactly as the button's URL did. Without rate limits nothing is left and every start passes.
 */
const CHECK = 'doorman.loginStartCheck';

/** Counts one start; false when refused (the 429 page is then the answer). */
type LoginStartCheck = () => Promise<boolean>;

export function leaveLoginStartCheck(ctx: Context, check: LoginStartCheck): void {
  ctx.state[CHECK] = check;
}

export function countLoginStart(ctx: Context): Promise<boolean> {
  const check = ctx.state[CHECK] as LoginStartCheck | undefined;
  return check ? check() : Promise.resolve(true);
}
