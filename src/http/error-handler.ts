import type { Middleware } from 'koa';
import { isDatabaseUnavailable } from '../db/outage.ts';
import { BrokerError, clientErrorStatus } from '../errors.ts';
import type { Logger } from '../log.ts';
import { renderDatabaseOutage } from './database-outage.ts';
import type { Render } from './render.ts';

/** Plain words for each error code a person can meet. */
const MESSAGES: Record<string, { title: string; text: string }> = {
  denied: { title: 'Sign-in cancelled', text: 'You did not allow the sign-in at your identity provider, so nothing was shared.' },
  expired: { title: 'Sign-in expired', text: 'This sign-in took too long or was already used. Please try again.' },
  login_expired: { title: 'Sign-in expired', text: 'This sign-in link was already used or has expired. Please start again from the app.' },
  interaction_expired: { title: 'Sign-in expired', text: 'This sign-in took too long. Please go back to the app and sign in again.' },
  state_mismatch: { title: 'Sign-in could not be verified', text: 'This response does not belong to a sign-in started in this browser. Please start again from the app.' },
  timeout: { title: 'Identity provider not responding', text: 'The identity provider did not answer in time. Please try again, or choose another way to sign in.' },
  unavailable: { title: 'Identity provider unavailable', text: 'The identity provider is having trouble or could not be reached. Please try again later, or choose another way to sign in.' },
  misconfigured: { title: 'Sign-in is misconfigured', text: 'The identity provider refused Doorman\'s request. This needs your administrator; please tell them the time of this error.' },
  invalid_response: { title: 'Sign-in could not be verified', text: 'The identity provider sent an answer that failed Doorman\'s checks. Please try again.' },
  domain_not_allowed: { title: 'Account not allowed', text: 'This account does not belong to an organisation allowed to sign in here. Please choose another account.' },
  org_not_allowed: { title: 'Account not allowed', text: 'Your GitHub account is not a member of an organization or team allowed to sign in here. Ask an owner to add you, or choose another way to sign in.' },
  proof_mismatch: { title: 'Not the same account', text: 'That sign-in does not belong to the account with this email, so nothing was linked and that account was not touched. Try again with one of its own sign-in methods, or cancel.' },
  link_expired: { title: 'Link expired', text: 'This offer to link accounts has expired or was already used. Please sign in again from the app.' },
  signup_disabled: { title: 'No account for this sign-in', text: 'New accounts cannot be created this way here. Ask your administrator to link this sign-in method to your account.' },
  identity_in_use: { title: 'Already linked elsewhere', text: 'That sign-in method belongs to another Doorman account. An administrator can merge the two accounts.' },
  email_not_verified: { title: 'Email not verified', text: 'Only an email that one of your sign-in methods has verified can be the one your apps see.' },
  last_identity: { title: 'Cannot remove it', text: 'This is your only way to sign in; link another one before removing it.' },
  account_disabled: { title: 'Account disabled', text: 'Your account has been disabled. Please contact your administrator.' },
  csrf: { title: 'Form expired', text: 'This form could not be verified. Please go back and try again.' },
  unknown_upstream: { title: 'Unknown sign-in option', text: 'That way of signing in is not available.' },
  not_found: { title: 'Page not found', text: 'There is nothing at this address.' },
  bad_request: { title: 'Request not understood', text: 'The form or address sent could not be read. Please go back and try again.' },
  too_large: { title: 'Request too large', text: 'The form sent was larger than Doorman accepts. Please go back and try again.' },
};

/** Turns BrokerErrors (and anything unexpected) into an error page; details go to the log only. */
export function errorHandler(render: Render, log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        log.error('database unavailable', { errorCode: 'temporarily_unavailable', path: ctx.path, error: err instanceof Error ? `${err.name}: ${err.message.trim().split('\n').pop()}` : String(err) });
        // A GET can simply be repeated; after a form post, the way back is the page it came from.
        // Path and query only: a request line in absolute form (GET http://elsewhere/...)
        // puts a foreign origin into originalUrl, which must not become the link.
        return renderDatabaseOutage(render, ctx, ctx.method === 'GET' ? `${ctx.path}${ctx.search}` : err instanceof BrokerError ? err.retryUrl : undefined);
      }
      const known = err instanceof BrokerError;
      // Koa's and the body parser's own 4xx (413 too large, 415 charset, 400 malformed).
      const clientStatus = known ? undefined : clientErrorStatus(err);
      const code = known ? err.code : clientStatus === 413 ? 'too_large' : clientStatus ? 'bad_request' : 'internal';
      const status = known ? err.status : clientStatus ?? 500;
      (status >= 500 ? log.error : log.warn)('request failed', {
        errorCode: code, path: ctx.path, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        cause: known && err.cause instanceof Error ? err.cause.message : undefined,
      });
      const words = MESSAGES[code] ?? { title: 'Something went wrong', text: 'Doorman could not complete this request. Please try again.' };
      render(ctx, 'error', { ...words, code, retryUrl: known ? err.retryUrl : undefined }, status);
    }
  };
}
