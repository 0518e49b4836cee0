/**
 * One command's process group, from spawn until it is empty.
 *
 * Process group ids are process ids, and the kernel reuses an id once
 * nothing holds it. After the group has been seen empty a signal to its
 * id could reach a stranger's new group, so this class remembers that and
 * refuses to signal it again.
 */

import { setTimeout as delay } from 'node:timers/promises';

import {
  assertTarget,
  groupAlive,
  groupMembers,
  signalGroup,
} from './process-tree.js';

/** How often {@link ProcessGroup.sweep} checks the group, in ms. */
export const GROUP_POLL_MS = 10;

/** Least time between two reads of /proc for zombies, in ms. */
const ZOMBIE_SCAN_MS = 50;

/**
 * How a sweep ended: the group was already empty, SIGTERM emptied it, or
 * SIGKILL was needed after the grace period.
 */
export type SweepOutcome = 'empty' | 'terminated' | 'killed';

/** A process group that is signalled only while it may still exist. */
export class ProcessGroup {
  /** The group id: the pid of the process that leads it. */
  readonly pgid: number;

  #gone = false;
  #lastScan = 0;

  /**
   * @param pgid id of a group we created, an integer above 1
   * @throws {RangeError} for an id that must never be signalled
   */
  constructor(pgid: number) {
    // Fail at construction rather than at the first signal.
    assertTarget(pgid);
    this.pgid = pgid;
  }

  /** True once the group has been seen empty; it is never signalled again. */
  get gone(): boolean {
    return this.#gone;
  }

  /**
   * Signals every process of the group unless it has been seen empty.
   *
   * @returns false when the group is (now known to be) empty
   * @throws the kill(2) error for anything but ESRCH, e.g. EPERM
   */
  signal(signal: NodeJS.Signals): boolean {
    if (this.#gone) return false;
    if (signalGroup(this.pgid, signal)) return true;
    this.#gone = true;
    return false;
  }

  /**
   * Tells whether a live process remains in the group. Zombies do not
   * count: they are dead, and where PID 1 does not reap orphans they would
   * otherwise keep the group alive forever.
   */
  alive(): boolean {
    if (this.#gone) return false;
    if (!groupAlive(this.pgid)) {
      this.#gone = true;
      return false;
    }

    const now = Date.now();
    if (now - this.#lastScan < ZOMBIE_SCAN_MS) return true;
    this.#lastScan = now;

    // An empty list while kill(2) sees members means /proc does not show
    // our pid namespace (or the group just emptied): trust kill(2) then.
    const members = groupMembers(this.pgid);
    if (members === null || members.length === 0) return true;
    if (members.some((member) => !member.zombie)) return true;

    // The zombies still hold the id, so it cannot name another group yet.
    // A last SIGKILL catches a process forked while /proc was being read.
    signalGroup(this.pgid, 'SIGKILL');
    this.#gone = true;
    return false;
  }

  /**
   * Empties the group: SIGTERM and SIGCONT, then SIGKILL if processes
   * remain after the grace period. Resolves only when no live process
   * remains, which can be never for a process stuck in uninterruptible
   * sleep.
   *
   * @param graceMs ms between SIGTERM and SIGKILL, non-negative
   * @throws the kill(2) error for anything but ESRCH, e.g. EPERM
   */
  async sweep(graceMs: number): Promise<SweepOutcome> {
    if (!this.alive() || !this.signal('SIGTERM')) return 'empty';
    // A stopped process acts on SIGTERM only once continued.
    this.signal('SIGCONT');

    // TODO(robustness): a member we may not signal (it changed user id)
    // keeps this loop polling for ever, and the command never finishes;
    // it should give up after SIGKILL and report the member.
    const killAt = Date.now() + graceMs;
    let outcome: SweepOutcome = 'terminated';
    while (this.alive()) {
      if (outcome === 'terminated' && Date.now() >= killAt) {
        this.signal('SIGKILL');
        outcome = 'killed';
      }
      await delay(GROUP_POLL_MS);
    }
    return outcome;
  }
}
