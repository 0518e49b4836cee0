/**
 * Operating-system facts the benchmarks read: free ports, a process's
 * memory, the members of a process group, and the processes a run left
 * behind.
 *
 * Every process the benchmark starts (servers, baseline commands, and
 * through the servers every job) inherits the environment variable
 * {@link MARKER_VARIABLE} set to the run's marker, so whatever survives
 * a crash can be found in /proc and ended without touching processes
 * that belong to anyone else.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

import {
  groupMembers,
  processTable,
  readProcess
} from '../../lib/process/process-tree.js';

/** Name of the environment variable that tags our processes. */
export const MARKER_VARIABLE = 'DISPATCHER_BENCH_MARKER';

/** This run's marker: random, so two runs never end each other's work. */
export const marker = randomBytes(8).toString('hex');

/** The environment for every process we start: ours plus the marker. */
export function markedEnv(): NodeJS.ProcessEnv {
  return { ...process.env, [MARKER_VARIABLE]: marker };
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1: bound with port 0,
 * read, then released. Another program could take it in between; the
 * server then fails to start and says so.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resident and peak resident memory of a process, in bytes. */
export interface Memory {
  rss: number;
  /** VmHWM: the highest RSS since the process started. */
  peak: number;
}

/**
 * Reads VmRSS and VmHWM from /proc/PID/status.
 *
 * @returns null once the process is gone
 */
export function memoryOf(pid: number): Memory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  return { rss: statusKb(status, 'VmRSS'), peak: statusKb(status, 'VmHWM') };
}

/**
 * Resident memory of a process by what it maps, MB (10^6 bytes), from
 * /proc/PID/smaps: the program itself (`node`), anonymous memory (the
 * JavaScript heaps and native allocations), the malloc `[heap]`, native
 * add-ons and other libraries; empty once the process is gone.
 */
export function memoryMapOf(pid: number): Record<string, number> {
  let smaps: string;
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, 'latin1');
  } catch {
    return {};
  }
  const sizes: Record<string, number> = {};
  let kind = '';
  for (const line of smaps.split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/
      .exec(line);
    if (mapping) {
      const path = mapping[1];
      kind = path === '' ? '[anon]'
        : path.endsWith('.node') ? 'add-ons'
          : path.startsWith('[') ? path
            : path.endsWith('/node') ? 'node' : 'libraries';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sizes[kind] = (sizes[kind] ?? 0) + Number(rss[1]) * 1024;
  }
  return Object.fromEntries(Object.entries(sizes)
    .filter(([, bytes]) => bytes >= 100_000)
    .map(([name, bytes]) => [name, Math.round(bytes / 1e5) / 10]));
}

/**
 * CPU time a process has used so far, user and system, all threads, in
 * seconds; NaN once it is gone. Read from /proc/PID/stat, which counts in
 * clock ticks of 1/100 s on Linux.
 */
export function cpuSecondsOf(pid: number): number {
  return (readProcess(pid)?.cpuTicks ?? NaN) / CLOCK_TICKS;
}

/** Clock ticks per second in /proc (USER_HZ), 100 on Linux. */
const CLOCK_TICKS = 100;

/**
 * Measures how busy a process is over a stretch of work: CPU seconds it
 * used per second of wall time (1 = one core fully busy).
 */
export class CpuMeter {
  #pid: number;
  #cpu: number;
  #wall: number;

  constructor(pid: number) {
    this.#pid = pid;
    this.#cpu = cpuSecondsOf(pid);
    this.#wall = performance.now();
  }

  /** Cores used on average since construction. */
  read(): number {
    const cpu = cpuSecondsOf(this.#pid) - this.#cpu;
    return cpu / ((performance.now() - this.#wall) / 1000);
  }
}

function statusKb(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}

/**
 * Live (not zombie) processes whose process group is `pgid`, from /proc.
 * Zombies count as gone: where PID 1 does not reap orphans they stay in
 * the table long after they died.
 */
export function liveGroupMembers(pgid: number): number[] {
  return (groupMembers(pgid) ?? [])
    .filter((member) => !member.zombie)
    .map((member) => member.pid);
}

/**
 * Pids of live processes, other than this one, that carry a run's
 * marker: this run's unless another is given.
 */
export function markedProcesses(runMarker = marker): number[] {
  const needle = `${MARKER_VARIABLE}=${runMarker}`;
  const found: number[] = [];
  for (const { pid, state } of processTable() ?? []) {
    if (pid === process.pid || state === 'Z' || state === 'X') continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours to read
    }
    if (environ.split('\0').includes(needle)) found.push(pid);
  }
  return found;
}

/**
 * Ends every process of this run that is still alive, by pid, with
 * SIGKILL. Used after the servers were asked to stop, and on the way out
 * after a failure.
 *
 * @returns how many it had to end
 */
export function killMarkedProcesses(): number {
  const pids = markedProcesses();
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // It ended by itself meanwhile.
    }
  }
  return pids.length;
}

/**
 * Resolves once `condition` holds, checking every `intervalMs`.
 *
 * @param what named in the error when `timeoutMs` passes
 * @throws {Error} when the condition still fails after `timeoutMs`
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 5
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(intervalMs);
  }
}
