/**
 * Failed-login throttling. Failed logins are counted per client address
 * (see `addressKey`); when an address reaches the limit within the
 * window, it is locked out for a while and every login from it is
 * refused without looking at the password, so guessing goes no faster
 * than the limit allows.
 */
import { addressKey } from './address.js';

export interface ThrottleOptions {
  /** Failed logins within `windowMs` that start a lockout. */
  limit: number;
  /** Window in which failures are counted, milliseconds. */
  windowMs: number;
  /** How long a lockout lasts, milliseconds. */
  lockoutMs: number;
  /**
   * Addresses tracked at most; past it the oldest entry is forgotten, so
   * a flood from many addresses cannot grow memory. Default 100 000.
   */
  maxAddresses?: number;
  /** Clock, epoch milliseconds; for specs. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  /** Times of failures still inside the window, oldest first. */
  failures: number[];
  /** Epoch ms until which the address is locked out; 0 if it is not. */
  lockedUntil: number;
}

/** What a failed login led to. */
export type Verdict =
  | { locked: false; failures: number }
  | { locked: true; untilMs: number };

export class LoginThrottle {
  readonly options: Required<ThrottleOptions>;
  #entries = new Map<string, Entry>();

  constructor(options: ThrottleOptions) {
    for (const key of ['limit', 'windowMs', 'lockoutMs'] as const) {
      if (!(options[key] >= 0)) {
        throw new RangeError(`${key} must not be negative`);
      }
    }
    this.options = { maxAddresses: 100000, now: Date.now, ...options };
  }

  /** Milliseconds the address stays locked out; 0 when it may log in. */
  lockedFor(address: string): number {
    const entry = this.#entries.get(addressKey(address));
    if (!entry) return 0;
    return Math.max(0, entry.lockedUntil - this.options.now());
  }

  /** Counts a failed login; says whether the address is now locked. */
  fail(address: string): Verdict {
    const key = addressKey(address);
    const now = this.options.now();
    const { limit, windowMs, lockoutMs } = this.options;
    let entry = this.#entries.get(key);
    if (entry) {
      // Re-inserted so that the map stays ordered by last failure.
      this.#entries.delete(key);
    } else {
      entry = { failures: [], lockedUntil: 0 };
      this.#evict();
    }
    this.#entries.set(key, entry);
    if (entry.lockedUntil > now) {
      return { locked: true, untilMs: entry.lockedUntil };
    }
    entry.failures = entry.failures.filter((at) => at > now - windowMs);
    entry.failures.push(now);
    if (entry.failures.length < limit) {
      return { locked: false, failures: entry.failures.length };
    }
    entry.failures = [];
    entry.lockedUntil = now + lockoutMs;
    return { locked: true, untilMs: entry.lockedUntil };
  }

  /** Number of addresses tracked, for specs and metrics. */
  get size(): number {
    return this.#entries.size;
  }

  /** Forgets expired entries, then the oldest if still full. */
  #evict(): void {
    if (this.#entries.size < this.options.maxAddresses) return;
    const now = this.options.now();
    const horizon = now - this.options.windowMs;
    for (const [key, entry] of this.#entries) {
      const recent = entry.failures.some((at) => at > horizon);
      if (entry.lockedUntil <= now && !recent) this.#entries.delete(key);
    }
    while (this.#entries.size >= this.options.maxAddresses) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}
