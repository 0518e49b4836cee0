/**
 * Limits that keep one client, or many, from taking the server down:
 * open connections, live jobs, and the size of what a `run` may ask for.
 * Each limit is a setting in `ServerConfig`; each refusal is an error
 * reply that names the limit.
 */
import { RpcError } from '../rpc/errors.js';
import { addressKey } from './address.js';

export interface ConnectionLimitOptions {
  /** Open connections from one address (see `addressKey`). */
  perAddress: number;
  /** Open connections in all. */
  total: number;
}

/**
 * Counts open connections of both transports, per address and in all.
 * `admit` reserves a slot or throws; `release` frees it once.
 */
export class ConnectionLimits {
  readonly options: ConnectionLimitOptions;
  #byAddress = new Map<string, number>();
  #total = 0;

  constructor(options: ConnectionLimitOptions) {
    this.options = options;
  }

  /** Open connections in all. */
  get total(): number {
    return this.#total;
  }

  /**
   * Takes a slot for a new connection from `address`.
   *
   * @returns a function that frees the slot; calling it again does nothing
   * @throws {RpcError} `too_many_connections` when a limit is reached
   */
  admit(address: string): () => void {
    const key = addressKey(address);
    const open = this.#byAddress.get(key) ?? 0;
    if (this.#total >= this.options.total) {
      throw new RpcError(
        'too_many_connections',
        `the server has ${this.#total} connections open, its limit`
      );
    }
    if (open >= this.options.perAddress) {
      throw new RpcError(
        'too_many_connections',
        `${key} has ${open} connections open, the limit per address`
      );
    }
    this.#byAddress.set(key, open + 1);
    this.#total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total -= 1;
      const left = (this.#byAddress.get(key) ?? 1) - 1;
      if (left > 0) this.#byAddress.set(key, left);
      else this.#byAddress.delete(key);
    };
  }
}

/** Limits on live jobs; see `ServerConfig`. */
export interface JobLimits {
  maxLiveJobs: number;
  maxLiveJobsPerQueue: number;
}

/**
 * Throws `too_many_jobs` when queueing `adding` more jobs in `queue`
 * would pass a limit on live (pending and running) jobs.
 *
 * @param sizes running and pending jobs per queue, as the dispatcher
 *   reports them
 */
export function checkLiveJobs(
  sizes: ReadonlyMap<string, { running: number; pending: number }>,
  queue: string,
  adding: number,
  limits: JobLimits
): void {
  let total = 0;
  for (const { running, pending } of sizes.values()) {
    total += running + pending;
  }
  const inQueue = sizes.get(queue);
  const queued = inQueue ? inQueue.running + inQueue.pending : 0;
  if (queued + adding > limits.maxLiveJobsPerQueue) {
    throw new RpcError(
      'too_many_jobs',
      `${queue} holds ${queued} live jobs; ${adding} more would pass ` +
        `its limit of ${limits.maxLiveJobsPerQueue}`
    );
  }
  if (total + adding > limits.maxLiveJobs) {
    throw new RpcError(
      'too_many_jobs',
      `the server holds ${total} live jobs; ${adding} more would pass ` +
        `its limit of ${limits.maxLiveJobs}`
    );
  }
}
