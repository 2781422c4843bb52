import * as oidc from 'openid-client';
import { UpstreamError } from '../upstreams/connector.ts';
import type { UpstreamCallNotes } from './upstream-call-notes.ts';

/**
 * Times one upstream step of the login path and notes its outcome for the console's
 * Upstreams page. The note is queued and written later in a batch (upstream-call-notes.ts):
 * the person's sign-in neither waits for it nor fails with it. Successful starts are not
 * noted (they only build a URL, or read cached discovery), so a login costs one row.
 */
export async function observeUpstreamStep<T>(deps: { upstreamCallNotes: UpstreamCallNotes }, upstream: string, stage: 'start' | 'callback', step: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const note = (failure?: { kind: string; message: string }) => {
    deps.upstreamCallNotes.note({ upstream, stage, failure, latencyMs: performance.now() - started });
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
