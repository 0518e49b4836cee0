/**
 * Start-up recovery: what the store says was unfinished when the server
 * last stopped is put right before any queue starts.
 *
 * - A job that was running is recorded as finished, outcome
 *   `interrupted`, and whatever is left of its process group is ended
 *   (SIGTERM, then SIGKILL after the grace period). The group is
 *   signalled only if it is provably the job's: same boot, and its
 *   processes started no earlier than the job's own leader.
 * - Pending jobs go back to their queues in their original order, with
 *   their original ids, submitters and times. Those of a queue that is
 *   not configured stay in the store, untouched, until it is again.
 * - After a crash (the store was not closed cleanly), queues that get
 *   pending jobs back may be left paused, so an operator can look first.
 */
import { statSync } from 'node:fs';

import type { CommandOutcome } from '../../machines/job.js';
import type { Dispatcher } from '../jobs/dispatcher.js';
import type { Logger } from '../log.js';
import { ProcessGroup } from '../process/process-group.js';
import { groupMembers } from '../process/process-tree.js';
import type { OutputFiles } from './output-files.js';
import { bootId, processStartTicks } from './recorder.js';
import type { JobStore, StoredJob } from './store.js';

export interface RecoveryOptions {
  /** SIGTERM to SIGKILL grace for leftover processes, ms. */
  graceMs: number;
  /** Leave queues with restored jobs paused after a crash. */
  pauseAfterCrash: boolean;
  log: Logger;
}

export interface Recovery {
  /** True when the previous run did not stop cleanly. */
  crashed: boolean;
  interrupted: string[];
  requeued: number;
  paused: string[];
  /** Store keys of the requeued jobs, by job id. */
  restoredKeys: Map<string, number>;
}

const RUNNING_FLAG = 'server_running';

/** Ends what was left running; call before the dispatcher starts. */
export async function endInterrupted(
  store: JobStore,
  files: OutputFiles,
  options: RecoveryOptions
): Promise<{ crashed: boolean; interrupted: string[] }> {
  const crashed = store.getMeta(RUNNING_FLAG) === 'yes';
  store.setMeta(RUNNING_FLAG, 'yes');
  const running = store.unfinished().filter((job) => job.state === 'running');
  const sweeps: Promise<unknown>[] = [];
  const now = Date.now();
  for (const job of running) {
    const group = leftoverGroup(job);
    if (group) {
      options.log.warn({ jobId: job.id, pgid: job.pgid },
        'ending processes left by an interrupted job');
      sweeps.push(group.sweep(options.graceMs).catch((error) =>
        options.log.error({ err: error, jobId: job.id },
          'could not end leftover processes')));
    }
    // Commands that ended are on record already; the one that was
    // running is recorded as cut short, with the output it left.
    const done = store.commands(job.key);
    const outcomes: CommandOutcome[] = [...done];
    if (done.length < job.commands.length) {
      outcomes.push({
        index: done.length,
        command: job.commands[done.length],
        pid: job.pgid,
        startedAt: job.startedAt ?? now,
        finishedAt: now,
        exitCode: null,
        signal: null,
        error: 'interrupted: the server stopped while this command ran'
      });
    }
    store.markFinished(job.key, {
      outcome: 'interrupted',
      startedAt: job.startedAt,
      finishedAt: now,
      outcomes,
      kill: null,
      outputBytes: outcomes.map((_, i) => fileSize(files.path(job.key, i))),
      outputTruncated: false
    });
  }
  await Promise.all(sweeps);
  return { crashed, interrupted: running.map((job) => job.id) };
}

/** Requeues pending jobs; call once the dispatcher has started. */
export function requeuePending(
  store: JobStore,
  dispatcher: Dispatcher,
  crashed: boolean,
  options: RecoveryOptions,
  adopt: (id: string, key: number) => void
): Omit<Recovery, 'crashed' | 'interrupted'> {
  const byQueue = new Map<string, StoredJob[]>();
  for (const job of store.unfinished()) {
    if (job.state !== 'pending') continue;
    const list = byQueue.get(job.queue) ?? [];
    list.push(job);
    byQueue.set(job.queue, list);
  }
  const known = new Set(dispatcher.queues.map((queue) => queue.name));
  const restoredKeys = new Map<string, number>();
  const paused: string[] = [];
  let requeued = 0;
  for (const [queue, jobs] of byQueue) {
    if (!known.has(queue)) {
      // Kept as they are: they run once the queue is configured again.
      options.log.warn({ queue, jobs: jobs.length },
        'pending jobs wait for a queue that is not configured; start the ' +
        'server with --queue to run them');
      continue;
    }
    if (crashed && options.pauseAfterCrash) {
      dispatcher.pause(queue);
      paused.push(queue);
    }
    for (const job of jobs) {
      restoredKeys.set(job.id, job.key);
      adopt(job.id, job.key);
    }
    const result = dispatcher.restore(queue, jobs.map((job) => ({
      id: job.id,
      queue,
      commands: job.commands,
      submittedAt: job.submittedAt,
      submittedBy: job.submittedBy,
      ...(job.submittedFrom !== null && { submittedFrom: job.submittedFrom })
    })));
    if (!result.ok) {
      options.log.error({ queue, detail: result.detail },
        'could not requeue pending jobs');
      continue;
    }
    requeued += jobs.length;
  }
  return { requeued, paused, restoredKeys };
}

/** Records a clean stop: the next start is not after a crash. */
export function markCleanStop(store: JobStore): void {
  store.setMeta(RUNNING_FLAG, 'no');
}

/**
 * The job's process group if some of it is still alive and provably
 * its own, else null.
 */
function leftoverGroup(job: StoredJob): ProcessGroup | null {
  const { pgid, pgidStart } = job;
  if (pgid === null || pgid <= 1 || pgidStart === null) return null;
  if (job.bootId === null || job.bootId !== bootId()) return null;
  const members = groupMembers(pgid)?.filter((member) => !member.zombie);
  if (!members || members.length === 0) return null;
  for (const member of members) {
    const started = processStartTicks(member.pid);
    // The leader must be the very process we started; any other member
    // must have started after it. Anything else means the id was reused.
    if (started === null) continue;
    if (member.pid === pgid ? started !== pgidStart : started < pgidStart) {
      return null;
    }
  }
  return new ProcessGroup(pgid);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
