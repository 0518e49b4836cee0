/**
 * What the server keeps on disk about jobs, behind one small interface
 * so that another backend than SQLite can be added later.
 *
 * A job is stored under a `key` of its own: job ids may be reused once a
 * job has finished, so the id alone does not name one run.
 */
import type { CommandOutcome, KillRecord } from '../../machines/job.js';
import type { QueuedJob } from '../../machines/queue.js';
import type { Outcome } from '../jobs/job-log.js';

/** A job as stored. Times are epoch milliseconds. */
export interface StoredJob {
  key: number;
  id: string;
  queue: string;
  commands: string[];
  submittedBy: string;
  submittedFrom: string | null;
  submittedAt: number;
  state: 'pending' | 'running' | 'finished';
  outcome: Outcome | null;
  startedAt: number | null;
  finishedAt: number | null;
  /** Process group of the command running, for cleanup after a crash. */
  pgid: number | null;
  /** Start time of that group's leader, in clock ticks since boot. */
  pgidStart: number | null;
  /** Boot id of the machine the group ran on. */
  bootId: string | null;
  kill: KillRecord | null;
  /** Output bytes written to disk, and whether the cap cut it short. */
  outputBytes: number;
  outputTruncated: boolean;
}

/** One stored command of a job, with the size of its output file. */
export interface StoredCommand extends CommandOutcome {
  outputBytes: number;
}

/** How a job ended, as recorded. */
export interface FinishRecord {
  outcome: Outcome;
  startedAt: number | null;
  finishedAt: number;
  outcomes: CommandOutcome[];
  kill: KillRecord | null;
  outputBytes: number[];
  outputTruncated: boolean;
}

/** Where a job's current process group is, to find it after a crash. */
export interface GroupRecord {
  pgid: number;
  startTicks: number | null;
  bootId: string | null;
}

/** Where a page of finished jobs ends: its last job's end and key. */
export interface FinishedCursor {
  finishedAt: number;
  key: number;
}

/** One line of a stored log (`dispatcher` or `events-dispatcher`). */
export interface LogLine {
  at: number;
  log: 'dispatcher' | 'events-dispatcher';
  message: unknown;
}

export interface JobStore {
  /** Records newly queued jobs, all in one transaction; returns keys. */
  addJobs(jobs: QueuedJob[], submittedFrom: string | null): number[];
  markRunning(key: number, at: number, group: GroupRecord | null): void;
  markGroup(key: number, group: GroupRecord | null): void;
  markFinished(key: number, record: FinishRecord): void;
  /** Records one command that ended, before its job does. */
  addCommand(key: number, outcome: CommandOutcome, outputBytes: number): void;
  /** Corrects output sizes once the files are flushed. */
  markOutput(key: number, bytes: number[], truncated: boolean): void;
  /** Pending and running jobs, oldest first. */
  unfinished(): StoredJob[];
  /** Finished jobs, last to finish first, from after `before`. */
  finished(limit: number, before?: FinishedCursor): StoredJob[];
  /** The most recent job with this id. */
  latest(id: string): StoredJob | undefined;
  commands(key: number): StoredCommand[];
  addLogLines(lines: LogLine[]): void;
  logLines(logs: string[], from: number, to: number, limit: number): LogLine[];
  /** Deletes finished jobs past the limits; returns their keys. */
  prune(olderThan: number, keepNewest: number): number[];
  /** Runs `work` as one transaction: all its writes or none. */
  atomically<T>(work: () => T): T;
  getMeta(name: string): string | undefined;
  setMeta(name: string, value: string): void;
  close(): void;
}
