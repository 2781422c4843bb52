import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';
import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { claimDueLogouts, forgetLogout, queueLogouts, type ClaimedLogout } from './repository.ts';
import { signLogoutToken } from './logout-token.ts';
import type { BackchannelLogoutSettings } from './settings.ts';

/**
 * Delivers OIDC Back-Channel Logout tokens from the BackchannelLogout table.
 *
 * oidc-provider sends logout tokens itself only from its end_session endpoint, once,
 * awaited before the person's page is answered (2.5 s each) and refusing private
 * addresses (where internal apps live). So its Client#backchannelLogout is replaced by a
 * queue insert, and Doorman's own session endings (admin, disable, merge) queue in their
 * transaction (oidc/adapter.ts). Here every process polls the queue: each row is taken by
 * one process for one attempt (repository.ts), POSTed with a time limit, deleted on 200
 * or 204 (§2.8), else retried with back-off until `maxAttempts`. At least once: a process
 * that dies after the app answered but before the delete sends the logout again later.
 */
const POLL_MS = 1000;
const BATCH = 20;
const MAX_DELAY_MS = 10 * 60 * 1000;

export interface LogoutDelivery { close(): Promise<void> }

export function startLogoutDelivery({ provider, db, settings, log }: { provider: Provider; db: Db; settings: BackchannelLogoutSettings; log: Logger }): LogoutDelivery {
  let running: Promise<void> | undefined;
  // Closing aborts attempts in flight: their rows are already moved on, so another process (or the next start) retries them.
  const closing = new AbortController();
  let queueDown = false;
  const run = () => {
    running ??= drain().finally(() => { running = undefined; });
    return running;
  };

  provider.Client.prototype.backchannelLogout = async function queueLogout(this: Client, accountId: string, sid: string | undefined) {
    await queueLogouts(db, [{ clientId: this.clientId, accountId, sid: sid ?? null }]);
    void run();
  };
  // end_session swallows a failed queueLogout (it emits this and goes on signing the person out).
  provider.on('backchannel.error', (_ctx, err, client) => log.warn('back-channel logout not queued', { client: client.clientId, error: err }));

  async function drain(): Promise<void> {
    for (;;) {
      let due: ClaimedLogout[];
      try {
        due = await claimDueLogouts(db, BATCH, settings.timeoutMs, settings.retryDelayMs, MAX_DELAY_MS);
        if (queueDown) log.info('back-channel logout queue readable again');
        queueDown = false;
      } catch (err) {
        if (!queueDown) log.warn('back-channel logout queue unavailable', { error: err });
        queueDown = true;
        return;
      }
      await Promise.all(due.map(deliver));
      if (due.length < BATCH || closing.signal.aborted) return;
    }
  }

  async function deliver(row: ClaimedLogout): Promise<void> {
    const fields = { client: row.clientId, accountId: row.accountId, attempt: row.attempts };
    try {
      const client = await provider.Client.find(row.clientId);
      const uri = (client as (Client & { backchannelLogoutUri?: string }) | undefined)?.backchannelLogoutUri;
      if (!client || !uri) return await forgetLogout(db, row.id);
      const body = new URLSearchParams({ logout_token: await signLogoutToken(provider, client, row.accountId, row.sid) });
      // The token is the body: never logged, and not sent on to wherever a redirect points (§2.5 is a POST to this URI only).
      const res = await fetch(uri, { method: 'POST', body, redirect: 'manual', signal: AbortSignal.any([AbortSignal.timeout(settings.timeoutMs), closing.signal]) });
      await res.body?.cancel();
      if (res.status === 200 || res.status === 204) {
        log.info('back-channel logout delivered', fields);
        return await forgetLogout(db, row.id);
      }
      await failed(row, fields, `answered ${res.status}`);
    } catch (err) {
      if (closing.signal.aborted) return;
      await failed(row, fields, err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${settings.timeoutMs} ms` : errorText(err));
    }
  }

  async function failed(row: ClaimedLogout, fields: Record<string, unknown>, reason: string): Promise<void> {
    if (row.attempts < settings.maxAttempts) return log.info('back-channel logout attempt failed; will retry', { ...fields, reason });
    log.warn('back-channel logout given up', { ...fields, reason });
    await forgetLogout(db, row.id).catch(() => undefined);
  }

  const timer = setInterval(() => void run(), POLL_MS);
  timer.unref();
  void run();
  return {
    close: async () => {
      clearInterval(timer);
      closing.abort();
      await running;
    },
  };
}

/** A network error's own words (fetch wraps them in `cause`), never the request. */
function errorText(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? (('code' in cause && typeof cause.code === 'string') ? cause.code : cause.message) : String(cause);
}
