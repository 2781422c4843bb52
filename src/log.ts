import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';

/**
 * Structured logs: one JSON object per line on stderr, written by pino. Values under keys
 * that can carry credentials are replaced before writing, at any depth (pino's own
 * `redact` takes fixed paths only), so a careless `log.info(msg, { ...params })` cannot
 * leak a code, token, secret or cookie. Every line written while a request is served
 * carries that request's id (http/request-log.ts puts it in `logContext`).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type Logger = Record<Exclude<LogLevel, 'silent'>, (msg: string, fields?: Record<string, unknown>) => void>;

const SENSITIVE = /(secret|token|password|cookie|authorization|^code$|code_verifier|verifier|nonce|state|jwk|private|^d$|^p$|^q$)/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SENSITIVE.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/** Fields added to every line logged inside `logContext.run(fields, ...)` (the request id). */
export const logContext = new AsyncLocalStorage<Record<string, string>>();

/** `write` receives each line without its newline; by default lines go to stderr. */
export function createLogger(level: LogLevel = 'info', write?: (line: string) => void): Logger {
  const destination = write ? { write: (line: string) => write(line.replace(/\n$/, '')) } : pino.destination({ dest: 2, sync: true });
  const logger = pino({
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => logContext.getStore() ?? {},
    formatters: {
      level: (label) => ({ level: label }),
      log: (fields) => redact(fields) as Record<string, unknown>,
    },
  }, destination);
  return {
    debug: (msg, fields = {}) => logger.debug(fields, msg),
    info: (msg, fields = {}) => logger.info(fields, msg),
    warn: (msg, fields = {}) => logger.warn(fields, msg),
    error: (msg, fields = {}) => logger.error(fields, msg),
  };
}
