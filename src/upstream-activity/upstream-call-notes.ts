import type { Db } from '../db/client.ts';
import type { Logger } from '../log.ts';
import { insertUpstreamCalls, upstreamCallRow, type UpstreamCallInput, type UpstreamCallRow } from './repository.ts';

export interface UpstreamCallNotesOptions {
  /** Queued notes that start a write at once. */
  batchSize?: number;
  /** The longest a note waits in the queue before a write starts. */
  flushIntervalMs?: number;
  /** Notes held at most (queued and being written); more are dropped, not queued. */
  maxPending?: number;
}

/**
 * This process's notes of upstream calls (record.ts), written in batches: one INSERT per
 * `batchSize` notes or per `flushIntervalMs`, whichever comes first, so a login costs a
 * push onto an array rather than a statement of its own. Writes run one at a time, so the
 * notes hold at most one of the pool's connections and never queue ahead of logins for
 * more. A note is worth less than a login: when the database is slow or down, notes past
 * `maxPending` are dropped and a failed write loses its batch, each said once in the log.
 */
export class UpstreamCallNotes {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #maxPending: number;
  #queue: UpstreamCallRow[] = [];
  /** Rows queued or in a batch not yet written (or given up on). */
  #pending = 0;
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The last write started; the next one waits for it. */
  #writing: Promise<void> = Promise.resolve();

  constructor(deps: { db: Db; log: Logger }, options: UpstreamCallNotesOptions = {}) {
    this.#db = deps.db;
    this.#log = deps.log;
    this.#batchSize = options.batchSize ?? 200;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#maxPending = options.maxPending ?? 5000;
  }

  /** Queues one call; never waits and never throws. */
  note(call: UpstreamCallInput): void {
    if (this.#pending >= this.#maxPending) {
      this.#dropped++;
      this.#timer ??= this.#startTimer();
      return;
    }
    this.#queue.push(upstreamCallRow(call));
    this.#pending++;
    if (this.#queue.length >= this.#batchSize) void this.flush();
    else this.#timer ??= this.#startTimer();
  }

  /**
   * Writes what is queued now, after any write already under way; resolves once both are
   * done, so a reader that flushed first sees this process's notes. Never rejects.
   */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue;
    this.#queue = [];
    if (this.#dropped) {
      this.#log.warn('upstream call notes dropped: too many waiting to be written', { dropped: this.#dropped, waiting: this.#pending });
      this.#dropped = 0;
    }
    if (!batch.length) return this.#writing;
    this.#writing = this.#writing.then(async () => {
      try {
        await insertUpstreamCalls(this.#db, batch);
      } catch (err) {
        this.#log.warn('could not write upstream call notes; they are lost', { lost: batch.length, error: err });
      } finally {
        this.#pending -= batch.length;
      }
    });
    return this.#writing;
  }

  /** Stops the timer and writes what is left; call before the database closes. */
  close(): Promise<void> {
    return this.flush();
  }

  #startTimer(): NodeJS.Timeout {
    // A process with nothing else to do need not stay up for its notes; close() writes them.
    return setTimeout(() => void this.flush(), this.#flushIntervalMs).unref();
  }
}
