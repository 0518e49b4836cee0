/**
 * CPU and memory of running jobs, each summed over its whole process
 * tree: the command running now and every descendant, found in one pass
 * over /proc, then measured with one batched `pidusage` call for all
 * jobs together.
 *
 * A sample that could not be taken is an `error` with a reason, never a
 * 0: a dashboard must be able to tell an idle job from a blind spot. A
 * process that exits between the tree read and the measurement simply
 * drops out of its job's sum.
 */
import pidusage from 'pidusage';

import type { QueuedJob } from '../../machines/queue.js';
import { processTrees } from '../process/process-tree.js';

/** The latest measurement of one running job. */
export type UsageSample =
  | {
      /**
       * CPU time over the last interval, percent of one core; above 100
       * when the tree uses several cores.
       */
      cpu: number;
      /** Resident memory, bytes. */
      memory: number;
      /** When it was taken, epoch milliseconds. */
      sampledAt: number;
      /** Processes counted. */
      pids: number[];
    }
  | { error: string; sampledAt: number };

/** What the sampler measures: the running jobs and their command pids. */
export interface UsageSource {
  running(): Iterable<{ job: QueuedJob; pid: number | null }>;
}

/** What `pidusage` gives for one pid that we use. */
export interface PidStat {
  /** CPU time used so far, user and system, milliseconds. */
  ctime: number;
  /** Age of the process, milliseconds. */
  elapsed: number;
  /** Resident memory, bytes. */
  memory: number;
  /** When it was read, epoch milliseconds. */
  timestamp: number;
}

/** Measures a batch of pids; a pid missing from the answer has exited. */
export type PidMeter = (pids: number[]) => Promise<Record<number, PidStat>>;

export interface UsageSamplerOptions {
  /** Gap between samples, milliseconds. Default 2000. */
  intervalMs?: number;
  /** Replaces `pidusage`, for specs. */
  meter?: PidMeter;
  /** Told of each job's new sample. */
  onSample?: (job: QueuedJob, sample: UsageSample) => void;
}

/** pidusage's messages for a pid that is not there (procfile and ps). */
const VANISHED = /no matching pid|ENOENT|ESRCH/i;

/**
 * Samples the running jobs of a `UsageSource` every `intervalMs` and
 * keeps the latest sample per job. Its timer never keeps the process
 * alive, and `stop()` waits for a sample in progress.
 */
export class UsageSampler {
  /** Gap between samples, milliseconds. */
  readonly intervalMs: number;
  #source: UsageSource;
  #meter: PidMeter;
  #onSample: UsageSamplerOptions['onSample'];
  #samples = new Map<string, UsageSample>();
  /** CPU time and read time of each pid at the last sample. */
  #previous = new Map<number, { ctime: number; timestamp: number }>();
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #stopped = true;

  constructor(source: UsageSource, options: UsageSamplerOptions = {}) {
    this.#source = source;
    this.intervalMs = options.intervalMs ?? 2000;
    this.#meter = options.meter ?? pidusageMeter(this.intervalMs);
    this.#onSample = options.onSample;
  }

  /** Starts sampling; the first sample is one interval away. */
  start(): void {
    if (!this.#stopped) throw new Error('usage sampler already started');
    this.#stopped = false;
    this.#schedule();
  }

  /** Stops sampling; resolves once a sample in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#inFlight;
    this.#samples.clear();
    this.#previous.clear();
  }

  /** True while a timer is set or a sample is being taken. */
  get pending(): boolean {
    return this.#timer !== null || this.#inFlight !== null;
  }

  /** The latest sample of a running job, if one was taken. */
  get(id: string): UsageSample | undefined {
    return this.#samples.get(id);
  }

  /** Takes one sample of every running job now. */
  sample(): Promise<void> {
    this.#inFlight ??= this.#sample().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.sample().then(() => this.#schedule());
    }, this.intervalMs);
    // A sampler must never be what keeps the server's process alive.
    this.#timer.unref();
  }

  async #sample(): Promise<void> {
    const jobs = [...this.#source.running()];
    const roots = jobs.flatMap(({ pid }) => (pid === null ? [] : [pid]));
    // TODO(portability): without /proc only the command itself is
    // measured, not its descendants; its children's use is missed.
    const trees = processTrees(roots) ??
      new Map(roots.map((root) => [root, [root]]));
    const all = [...trees.values()].flat();
    let stats: Record<number, PidStat> = {};
    let failure: string | null = null;
    if (all.length > 0) {
      try {
        stats = await this.#measure(all);
      } catch (error) {
        failure = (error as Error).message || String(error);
      }
    }
    const sampledAt = Date.now();
    const live = new Set<string>();
    for (const { job, pid } of jobs) {
      live.add(job.id);
      if (pid === null) continue;
      const sample: UsageSample = failure === null
        ? this.#sum(trees.get(pid) ?? [pid], stats, sampledAt)
        : { error: failure, sampledAt };
      this.#samples.set(job.id, sample);
      this.#onSample?.(job, sample);
    }
    for (const id of this.#samples.keys()) {
      if (!live.has(id)) this.#samples.delete(id);
    }
    this.#remember(stats);
  }

  /**
   * One batched call. If it fails as a whole while some pids vanished,
   * measures each pid alone so one exited process cannot blind the rest.
   */
  async #measure(pids: number[]): Promise<Record<number, PidStat>> {
    try {
      return await this.#meter(pids);
    } catch (error) {
      if (!VANISHED.test(String((error as Error).message))) throw error;
    }
    const stats: Record<number, PidStat> = {};
    for (const pid of pids) {
      try {
        Object.assign(stats, await this.#meter([pid]));
      } catch (error) {
        if (!VANISHED.test(String((error as Error).message))) throw error;
      }
    }
    return stats;
  }

  #sum(
    pids: number[],
    stats: Record<number, PidStat>,
    sampledAt: number
  ): UsageSample {
    let cpu = 0;
    let memory = 0;
    const counted: number[] = [];
    for (const pid of pids) {
      const stat = stats[pid];
      if (!stat) continue; // exited before it was measured
      counted.push(pid);
      cpu += this.#cpu(pid, stat);
      memory += stat.memory;
    }
    return { cpu, memory, sampledAt, pids: counted };
  }

  /**
   * CPU over the last interval from the change in CPU time; for a pid not
   * seen before, the average over its life. pidusage's own `cpu` is 0 the
   * first time it sees a pid, which would read as an idle job.
   */
  #cpu(pid: number, stat: PidStat): number {
    const before = this.#previous.get(pid);
    if (before && stat.timestamp > before.timestamp) {
      const used = Math.max(0, stat.ctime - before.ctime);
      return (used / (stat.timestamp - before.timestamp)) * 100;
    }
    return stat.elapsed > 0 ? (stat.ctime / stat.elapsed) * 100 : 0;
  }

  /** Keeps this sample's pids only, so gone ones are forgotten. */
  #remember(stats: Record<number, PidStat>): void {
    this.#previous.clear();
    for (const [pid, stat] of Object.entries(stats)) {
      const { ctime, timestamp } = stat;
      this.#previous.set(Number(pid), { ctime, timestamp });
    }
  }
}

/**
 * `pidusage` as a `PidMeter`. Its history of a pid (and, on Linux, an
 * open /proc file) expires `maxage` after the pid was last asked for, so
 * exited pids are forgotten within a few intervals. `pidusage.clear()`
 * is not used: it is global to the process, and in 4.1.0 it drops the
 * history without closing those files.
 */
export function pidusageMeter(intervalMs: number): PidMeter {
  const maxage = Math.max(4 * intervalMs, 1000);
  return async (pids) => {
    const stats = await pidusage(pids, { maxage });
    const measured: Record<number, PidStat> = {};
    for (const pid of pids) {
      const stat = stats[pid];
      if (stat) measured[pid] = stat;
    }
    return measured;
  };
}

/**
 * A sample as wire fields: `cpu_percent` (one decimal), `memory_bytes`
 * and `pids` (processes counted), or `usage_error` with the reason.
 */
export function usageFields(sample: UsageSample): Record<string, unknown> {
  if ('error' in sample) return { usage_error: sample.error };
  return {
    cpu_percent: Math.round(sample.cpu * 10) / 10,
    memory_bytes: sample.memory,
    pids: sample.pids.length
  };
}
