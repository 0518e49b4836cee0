/**
 * The queue machine: a FIFO of pending jobs and a limit on how many run
 * at once.
 *
 * Pending jobs are plain records, not actors: an XState actor costs tens
 * of microseconds and a few kilobytes, and a queue must take 100 000
 * jobs. A job actor is made only when the queue admits the job (the
 * `startJob` effect), so live actors are bounded by what runs.
 *
 * Admission happens in the same step as the event that frees a slot, so
 * the next job starts as soon as the previous one ends, with no timer.
 *
 * The FIFO and the running set are mutated in place (copying them on
 * every event would make enqueueing quadratic); the machine is therefore
 * only run as an actor, never through pure `transition()` calls.
 */
import { enqueueActions, setup } from 'xstate';

import { Fifo } from './fifo.js';

/** A job waiting in a queue. Times are epoch milliseconds. */
export interface QueuedJob {
  id: string;
  queue: string;
  commands: string[];
  submittedAt: number;
  submittedBy: string;
  /** Address the request came from, when known. */
  submittedFrom?: string;
}

export interface QueueInput {
  name: string;
  /** Jobs run at once; `Infinity` for no limit. */
  concurrency: number;
}

export interface QueueContext extends QueueInput {
  pending: Fifo<QueuedJob>;
  running: Set<string>;
}

export type QueueEvent =
  | { type: 'QUEUE.ENQUEUE'; jobs: QueuedJob[] }
  | { type: 'QUEUE.KILL'; id: string; by: string; graceMs?: number }
  | { type: 'JOB.ENDED'; id: string }
  | { type: 'QUEUE.PAUSE' }
  | { type: 'QUEUE.RESUME' }
  | { type: 'QUEUE.CLOSE' };

export interface KillParams {
  id: string;
  by: string;
  graceMs?: number;
}

function missing(name: string): () => never {
  return () => {
    throw new Error(`the ${name} action must be provided`);
  };
}

export const queueMachine = setup({
  types: {
    context: {} as QueueContext,
    input: {} as QueueInput,
    events: {} as QueueEvent
  },
  actions: {
    /** Effect: jobs joined the queue (before any of them starts). */
    jobsQueued: missing('jobsQueued') as (
      _: unknown,
      params: { jobs: QueuedJob[] }
    ) => void,
    /** Effect: make the job's actor and start it. */
    startJob: missing('startJob') as (
      _: unknown,
      params: { job: QueuedJob }
    ) => void,
    /** Effect: a pending job was taken out of the queue by a kill. */
    cancelJob: missing('cancelJob') as (
      _: unknown,
      params: { job: QueuedJob; by: string }
    ) => void,
    /** Effect: forward a kill to a running job's actor. */
    killJob: missing('killJob') as (_: unknown, params: KillParams) => void,

    enqueue: ({ context, event }) => {
      if (event.type !== 'QUEUE.ENQUEUE') return;
      for (const job of event.jobs) context.pending.push(job);
    },
    announce: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'QUEUE.ENQUEUE') return;
      enqueue({ type: 'jobsQueued', params: { jobs: event.jobs } });
    }),
    release: ({ context, event }) => {
      if (event.type === 'JOB.ENDED') context.running.delete(event.id);
    },
    admit: enqueueActions(({ context, enqueue }) => {
      const { pending, running, concurrency } = context;
      while (running.size < concurrency && pending.size > 0) {
        const job = pending.shift()!;
        running.add(job.id);
        enqueue({ type: 'startJob', params: { job } });
      }
    }),
    kill: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'QUEUE.KILL') return;
      const { id, by, graceMs } = event;
      const job = context.pending.remove(id);
      if (job) {
        enqueue({ type: 'cancelJob', params: { job, by } });
      } else if (context.running.has(id)) {
        enqueue({ type: 'killJob', params: { id, by, graceMs } });
      }
    })
  },
  guards: {
    empty: ({ context }) =>
      context.pending.size === 0 && context.running.size === 0
  }
}).createMachine({
  id: 'queue',
  context: ({ input }) => ({
    ...input,
    pending: new Fifo<QueuedJob>(),
    running: new Set<string>()
  }),
  initial: 'open',
  on: {
    'QUEUE.KILL': { actions: 'kill' },
    'QUEUE.CLOSE': '.closed'
  },
  states: {
    open: {
      initial: 'idle',
      on: {
        'QUEUE.ENQUEUE': {
          target: '.busy',
          actions: ['enqueue', 'announce', 'admit']
        },
        'JOB.ENDED': { actions: ['release', 'admit'] },
        'QUEUE.PAUSE': 'paused'
      },
      states: {
        idle: {},
        busy: {
          always: { guard: 'empty', target: 'idle' }
        }
      }
    },
    // Jobs are taken and kept in order, and running ones finish, but
    // nothing new starts until QUEUE.RESUME.
    paused: {
      on: {
        'QUEUE.ENQUEUE': { actions: ['enqueue', 'announce'] },
        'JOB.ENDED': { actions: 'release' },
        'QUEUE.RESUME': { target: 'open.busy', actions: 'admit' }
      }
    },
    // The server is stopping: running jobs end, nothing new starts, and
    // pending jobs stay where they are.
    closed: {
      on: {
        'JOB.ENDED': { actions: 'release' }
      }
    }
  }
});
