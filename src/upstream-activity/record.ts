import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import * as oidc from 'openid-client';
import { UpstreamError } from '../upstreams/connector.ts';
import { recordUpstreamCall } from './repository.ts';

/**
 * Times one upstream step of the login path and notes its outcome for the console's
 * Upstreams page. The note is written without the login waiting for it (one INSERT, no
 * read): the person's sign-in neither slows down for it nor fails with it; a note that
 * cannot be written is logged and lost. Successful starts are not noted (they only build
 * a URL, or read cached discovery), so a login costs one row.
 */
export async function observeUpstreamStep<T>(deps: { db: Db; log: Logger }, upstream: string, stage: 'start' | 'callback', step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const note = (failure?: { kind: string; message: string }) => {
    recordUpstreamCall(deps.db, { upstream, stage, failure, latencyMs: performance.now() - started })
      .catch((err: unknown) => deps.log.warn('could not note an upstream call', { upstream, error: err }));
  };
  try {
    const result = await step();
    if (stage === 'callback') note();
    return result;
  } catch (err) {
    note(err instanceof UpstreamError ? { kind: err.code, message: noteMessage(err, stage) } : { kind: 'internal', message: 'unexpected error (see the log)' });
    throw err;
  }
}

/**
 * An error the upstream sent back through the browser (the callback's error and
 * error_description) is whatever the person, or a stranger who started a login, put in the
 * URL: admins see only its error code, not a description posing as the upstream's words.
 */
function noteMessage(err: UpstreamError, stage: string): string {
  const redirect = err.cause instanceof oidc.AuthorizationResponseError ? err.cause : undefined;
  if (!redirect) return err.message;
  const code = /^[\w.-]{1,64}$/.test(redirect.error) ? redirect.error : 'an unreadable error code';
  return `${stage}: the redirect back from the upstream said ${code} (its description is not kept: anyone can write it)`;
}
