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

/**
 * The 4xx status of an error raised by Koa or a body parser (413 too large, 415 charset,
 * 400 malformed JSON), or undefined for anything else. Only messages of errors marked
 * `expose` were written for the client (http-errors).
 */
export function clientErrorStatus(err: unknown): number | undefined {
  const status = err instanceof Error ? (err as Error & { status?: unknown }).status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}
