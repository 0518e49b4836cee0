/**
 * Deadline polling for the machine specs: wait on a condition, never on
 * a fixed sleep.
 */
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Resolves as soon as `condition` holds.
 *
 * @param condition checked at once, then every `intervalMs`
 * @param what named in the error when the deadline passes
 * @param timeoutMs how long to wait in all, milliseconds; default 2000
 * @param intervalMs pause between checks, milliseconds; default 2
 * @throws {Error} when `condition` still fails after `timeoutMs`
 */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = 2000,
  intervalMs = 2
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(intervalMs);
  }
}
