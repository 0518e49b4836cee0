/**
 * Watching a subscribed client's `dispatcher` events, and waiting on
 * them with a deadline rather than a sleep.
 */
import type { Client } from '../../lib/client/client.js';

/** An event's args, with when it arrived: epoch ms with a fraction. */
export type Received = Record<string, any> & { receivedAt: number };

/**
 * Keeps the `started` and `finished` events of every job (by id) and
 * counts every event by name. Other events are counted, not kept.
 */
export class Watch {
  readonly started = new Map<string, Received>();
  readonly finished = new Map<string, Received>();
  readonly counts = new Map<string, number>();
  #wakers = new Set<() => void>();
  #closed = false;

  constructor(client: Client) {
    client.on('event', (message) => {
      const args = message.args as Received;
      args.receivedAt = performance.timeOrigin + performance.now();
      const name = String(args.event);
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
      if (name === 'started') this.started.set(args.process_id, args);
      if (name === 'finished') this.finished.set(args.process_id, args);
      for (const wake of this.#wakers) wake();
    });
    // No event comes after this; waiting on would only time out.
    client.on('close', () => {
      this.#closed = true;
      for (const wake of this.#wakers) wake();
    });
  }

  /**
   * Resolves when `condition` holds, checked at once and after every
   * event.
   *
   * @param what named in the error after `timeoutMs`
   * @throws {Error} when the deadline passes or the connection closes
   *   first
   */
  until(
    condition: () => boolean,
    what: string,
    timeoutMs = 60_000
  ): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (condition()) {
          done();
          resolve();
        } else if (this.#closed) {
          done();
          reject(new Error(`the connection closed while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
      };
      this.#wakers.add(wake);
    });
  }

  /** Resolves with the `finished` event of job `id`. */
  async finishedOf(id: string, timeoutMs?: number): Promise<Received> {
    await this.until(() => this.finished.has(id), `job ${id} to finish`,
      timeoutMs);
    return this.finished.get(id)!;
  }

  /** Forgets the jobs seen so far (counts stay). */
  clear(): void {
    this.started.clear();
    this.finished.clear();
  }
}

/**
 * `run` args for `count` jobs named `prefix` plus a zero-padded number,
 * all with the same command, in that order.
 */
export function jobBatch(
  queue: string,
  prefix: string,
  count: number,
  command: string | string[]
): Record<string, unknown> {
  const args: Record<string, unknown> = { action: 'run', queue };
  for (const id of jobIds(prefix, count)) args[id] = command;
  return args;
}

/** The ids {@link jobBatch} uses, in order. */
export function jobIds(prefix: string, count: number): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count },
    (_, i) => `${prefix}${String(i).padStart(width, '0')}`);
}
