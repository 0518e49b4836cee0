/**
 * Signalling and inspecting the processes a command leaves around it.
 *
 * Every command runs as the leader of its own process group, so the
 * group id is the command's pid. A wrong id here is dangerous: kill(2)
 * with 0 hits the supervisor's own group, -1 every process we may signal,
 * and 1 is init, so each function refuses such ids before calling it.
 */

import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

import treeKill from 'tree-kill';

import { errorCode } from './errno.js';

/** A process found in a process group by {@link groupMembers}. */
export interface GroupMember {
  pid: number;
  /** True when it has exited and waits to be reaped: already dead. */
  zombie: boolean;
}

/**
 * Sends a signal to every process of a process group.
 *
 * @param pgid process group id, an integer above 1 that is not our pid
 * @returns false when no process is in the group (ESRCH)
 * @throws {RangeError} for an id that would reach the wrong processes
 * @throws the kill(2) error for anything but ESRCH, e.g. EPERM
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  assertTarget(pgid, 'process group');
  return kill(-pgid, signal);
}

/**
 * Tells whether any process is in a process group. Zombies count, as they
 * do for kill(2); see {@link groupMembers} to tell them apart.
 *
 * @param pgid process group id, an integer above 1 that is not our pid
 * @returns true also when the group exists but we may not signal it
 * @throws {RangeError} for an id that would reach the wrong processes
 */
export function groupAlive(pgid: number): boolean {
  assertTarget(pgid, 'process group');
  try {
    return kill(-pgid, 0);
  } catch (err) {
    if (errorCode(err) === 'EPERM') return true;
    throw err;
  }
}

/**
 * Sends a signal to a process and all its descendants, found by parent
 * id. This reaches descendants that left the process group (setsid),
 * which a group signal misses. It lists the tree before signalling
 * anyone, so signal the group after it resolves: a group signal first
 * would orphan descendants before they are found.
 *
 * The tree comes from one read of /proc where there is one: `tree-kill`
 * runs `ps` once per process of the tree, which took over 100 ms for a
 * tree of 20. Without /proc, `tree-kill` does it; then nothing is
 * signalled when its process lister (`ps`, or `pgrep` on macOS) is not
 * on the PATH, because tree-kill would crash the supervisor with an
 * unhandled spawn error.
 *
 * @param pid the root process, an integer above 1 that is not our pid
 * @returns resolves once signals went out; processes that exited meanwhile
 *   are not an error
 * @throws {RangeError} at once for an id that would reach the wrong
 *   processes; rejects for other kill(2) errors, e.g. EPERM
 */
export function signalDescendants(
  pid: number,
  signal: NodeJS.Signals,
): Promise<void> {
  assertTarget(pid, 'process');
  const tree = processTree(pid);
  if (tree) {
    let failure: unknown = null;
    for (const member of tree) {
      if (member <= 1 || member === process.pid) continue;
      try {
        kill(member, signal);
      } catch (err) {
        failure ??= err;
      }
    }
    return failure ? Promise.reject(failure) : Promise.resolve();
  }
  if (!processListerAvailable()) return Promise.resolve();

  // TODO(safety): tree-kill signals by pid after listing with `ps`; a
  // listed process that exits meanwhile may have its pid reused, and the
  // signal then hits a stranger. Freezing the group first (as
  // CommandProcess does) closes this for group members only.

  return new Promise((resolve, reject) => {
    treeKill(pid, signal, (err) => {
      if (err === undefined || err === null || errorCode(err) === 'ESRCH') {
        resolve();
      } else {
        reject(err);
      }
    });
  });
}

/**
 * A process and its descendants, from one pass over /proc; null where
 * there is no /proc.
 */
function processTree(root: number): number[] | null {
  return processTrees([root])?.get(root) ?? null;
}

/** One process as its /proc/PID/stat line describes it. */
export interface ProcessStat {
  pid: number;
  /** One letter: R, S, D, Z (zombie), X (dead)... */
  state: string;
  ppid: number;
  pgrp: number;
  /** When it started, in clock ticks since boot. */
  startTicks: number;
  /** CPU time used, user and system, in clock ticks. */
  cpuTicks: number;
}

function parseStat(pid: number, stat: string): ProcessStat {
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    state: fields[0],
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTicks: Number(fields[19]),
    cpuTicks: Number(fields[11]) + Number(fields[12])
  };
}

/** One process from /proc, or null when it is gone (or no /proc). */
export function readProcess(pid: number): ProcessStat | null {
  try {
    return parseStat(pid, readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

/**
 * Every process, from one pass over /proc. Processes that exit while it
 * is read may be missed.
 *
 * @returns null where /proc cannot be read (not Linux, or not mounted)
 */
export function processTable(): ProcessStat[] | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const table: ProcessStat[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const found = readProcess(pid);
    if (found) table.push(found);
  }
  return table;
}

/**
 * Each root process with its descendants (root first), all from one pass
 * over /proc, so sampling many jobs costs one read of the process table.
 * A root that has exited maps to just itself.
 *
 * @returns null where there is no /proc
 */
export function processTrees(roots: number[]): Map<number, number[]> | null {
  const table = processTable();
  if (!table) return null;
  const children = new Map<number, number[]>();
  for (const { pid, ppid } of table) {
    const siblings = children.get(ppid);
    if (siblings) siblings.push(pid);
    else children.set(ppid, [pid]);
  }
  const trees = new Map<number, number[]>();
  for (const root of roots) {
    const tree = [root];
    for (let i = 0; i < tree.length; i++) {
      for (const child of children.get(tree[i]) ?? []) tree.push(child);
    }
    trees.set(root, tree);
  }
  return trees;
}

/**
 * Lists the processes of a process group from /proc, zombies included.
 *
 * Needed because kill(2) answers for zombies too, and where PID 1 does not
 * reap orphans (some containers and VMs) they stay in the group forever.
 *
 * @returns null where /proc cannot be read (not Linux, or not mounted)
 */
export function groupMembers(pgid: number): GroupMember[] | null {
  const table = processTable();
  if (!table) return null;
  return table
    .filter((member) => member.pgrp === pgid)
    .map(({ pid, state }) => ({ pid, zombie: state === 'Z' || state === 'X' }));
}

/**
 * Refuses an id that kill(2) would turn against the wrong processes:
 * anything but an integer above 1, and our own pid.
 *
 * @throws {RangeError} naming the id
 */
export function assertTarget(id: number, what = 'process group'): void {
  if (!Number.isSafeInteger(id) || id <= 1 || id === process.pid) {
    throw new RangeError(`refusing to signal ${what} ${id}`);
  }
}

/** kill(2) that reports a missing target as false instead of throwing. */
function kill(target: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ESRCH') return false;
    throw err;
  }
}

// Looked up on first use rather than at import; the PATH rarely changes.
let listerAvailable: boolean | undefined;

function processListerAvailable(): boolean {
  if (listerAvailable !== undefined) return listerAvailable;
  if (process.platform === 'win32') return (listerAvailable = true);

  const lister = process.platform === 'darwin' ? 'pgrep' : 'ps';
  const dirs = (process.env['PATH'] ?? '').split(delimiter);
  listerAvailable = dirs.some((dir) => {
    try {
      accessSync(join(dir, lister), constants.X_OK);
      return dir !== '';
    } catch {
      return false;
    }
  });
  return listerAvailable;
}
