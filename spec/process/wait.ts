/**
 * Deadline polling for specs: wait on a condition, never a fixed sleep.
 */

import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `condition` until it holds.
 *
 * @param condition checked at once, then every `intervalMs`
 * @param timeoutMs how long to wait in all, ms; default 5000
 * @param intervalMs ms between checks; default 10
 * @throws {Error} naming `what` when the deadline passes
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(intervalMs);
  }
}

/**
 * Tells whether a promise has settled, letting pending I/O callbacks run
 * first.
 */
export async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  const probe = new Promise((resolve) => setImmediate(resolve, pending));
  return (await Promise.race([promise, probe])) !== pending;
}
