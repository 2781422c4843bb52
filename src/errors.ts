/**
 * Errors a person sees as a page (views/error.eta). `code` picks the plain-words message;
 * `retryUrl` is the way back (usually the login page of the same interaction).
 */
export class BrokerError extends Error {
  readonly code: string;
  readonly status: number;
  retryUrl: string | undefined;
  constructor(code: string, message: string, opts: { status?: number; cause?: unknown; retryUrl?: string } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'BrokerError';
    this.code = code;
    this.status = opts.status ?? 400;
    this.retryUrl = opts.retryUrl;
  }
}
