/**
 * The supervisor machine: owns the queues and routes run and kill
 * requests to them.
 *
 * It keeps an index from every live job id (pending or running) to its
 * queue, so a kill goes straight to the right queue and a second job with
 * a live id is refused. Ids of recently finished jobs are remembered in a
 * bounded list, so a late kill can say "already finished" rather than
 * "unknown".
 *
 * Requests carry a `respond` callback, called once, synchronously, while
 * the event is handled: the answer never waits on a process.
 */
import { enqueueActions, setup, type ActorRefFrom } from 'xstate';

import { queueMachine, type QueuedJob } from './queue.js';

export interface QueueConfig {
  name: string;
  /** Jobs run at once; `Infinity` for no limit. */
  concurrency: number;
}

export interface SupervisorInput {
  queues: QueueConfig[];
  /** How many finished job ids to remember for kill replies. */
  recentLimit: number;
}

export type RunResult =
  | { ok: true; queue: string; started: string[] }
  | {
      ok: false;
      error: 'unknown_queue' | 'job_id_in_use' | 'shutting_down';
      detail: string;
    };

export interface KillResult {
  /** Ids the kill acted on: pending jobs ended, running ones signalled. */
  killed: string[];
  /** Ids of jobs that already finished. */
  finished: string[];
  /** Ids never seen (or finished too long ago to remember). */
  unknown: string[];
}

export type SupervisorEvent =
  | {
      type: 'SUPERVISOR.RUN';
      queue: string;
      jobs: QueuedJob[];
      respond: (result: RunResult) => void;
    }
  | {
      type: 'SUPERVISOR.KILL';
      ids: string[];
      by: string;
      graceMs?: number;
      respond: (result: KillResult) => void;
    }
  | { type: 'JOB.ENDED'; id: string; queue: string }
  | { type: 'SUPERVISOR.CLOSE' }
  | { type: 'SUPERVISOR.PAUSE'; queue: string }
  | { type: 'SUPERVISOR.RESUME'; queue: string };

type QueueRef = ActorRefFrom<typeof queueMachine>;

export interface SupervisorContext {
  queues: Map<string, QueueRef>;
  /** Live job id → queue name. Mutated in place, never copied. */
  index: Map<string, string>;
  /** Finished job ids, oldest first, at most `recentLimit`. */
  recent: Set<string>;
  recentLimit: number;
}

/** Checks a run request; returns the reason it must be refused. */
export function refuseRun(
  context: SupervisorContext,
  queue: string,
  jobs: QueuedJob[]
): RunResult | null {
  if (!context.queues.has(queue)) {
    const known = [...context.queues.keys()].join(', ');
    return {
      ok: false,
      error: 'unknown_queue',
      detail: `queue '${queue}' does not exist (queues: ${known})`
    };
  }
  const seen = new Set<string>();
  for (const job of jobs) {
    const holder = context.index.get(job.id);
    if (holder !== undefined) {
      return {
        ok: false,
        error: 'job_id_in_use',
        detail: `job id '${job.id}' is already live in ${holder}`
      };
    }
    if (seen.has(job.id)) {
      return {
        ok: false,
        error: 'job_id_in_use',
        detail: `job id '${job.id}' appears twice in this request`
      };
    }
    seen.add(job.id);
  }
  return null;
}

function remember(context: SupervisorContext, id: string): void {
  context.recent.delete(id);
  context.recent.add(id);
  if (context.recent.size > context.recentLimit) {
    context.recent.delete(context.recent.values().next().value!);
  }
}

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    input: {} as SupervisorInput,
    events: {} as SupervisorEvent
  },
  actors: { queue: queueMachine },
  actions: {
    run: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SUPERVISOR.RUN') return;
      const refusal = refuseRun(context, event.queue, event.jobs);
      if (refusal) {
        event.respond(refusal);
        return;
      }
      for (const job of event.jobs) {
        context.index.set(job.id, event.queue);
        context.recent.delete(job.id);
      }
      enqueue.sendTo(context.queues.get(event.queue)!, {
        type: 'QUEUE.ENQUEUE',
        jobs: event.jobs
      });
      event.respond({
        ok: true,
        queue: event.queue,
        started: event.jobs.map((job) => job.id)
      });
    }),
    kill: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SUPERVISOR.KILL') return;
      const result: KillResult = { killed: [], finished: [], unknown: [] };
      for (const id of new Set(event.ids)) {
        const queue = context.index.get(id);
        if (queue === undefined) {
          (context.recent.has(id) ? result.finished : result.unknown)
            .push(id);
          continue;
        }
        result.killed.push(id);
        enqueue.sendTo(context.queues.get(queue)!, {
          type: 'QUEUE.KILL',
          id,
          by: event.by,
          graceMs: event.graceMs
        });
      }
      event.respond(result);
    }),
    close: enqueueActions(({ context, enqueue }) => {
      for (const queue of context.queues.values()) {
        enqueue.sendTo(queue, { type: 'QUEUE.CLOSE' });
      }
    }),
    forward: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SUPERVISOR.PAUSE' &&
          event.type !== 'SUPERVISOR.RESUME') return;
      const queue = context.queues.get(event.queue);
      if (!queue) return;
      enqueue.sendTo(queue, {
        type: event.type === 'SUPERVISOR.PAUSE' ? 'QUEUE.PAUSE' : 'QUEUE.RESUME'
      });
    }),
    refuseRun: ({ event }) => {
      if (event.type !== 'SUPERVISOR.RUN') return;
      event.respond({
        ok: false,
        error: 'shutting_down',
        detail: 'the server is stopping and takes no new jobs'
      });
    },
    end: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'JOB.ENDED') return;
      if (context.index.get(event.id) !== event.queue) return;
      context.index.delete(event.id);
      remember(context, event.id);
      enqueue.sendTo(context.queues.get(event.queue)!, {
        type: 'JOB.ENDED',
        id: event.id
      });
    })
  }
}).createMachine({
  id: 'supervisor',
  context: ({ input, spawn }) => ({
    queues: new Map(
      input.queues.map((queue) => [
        queue.name,
        spawn('queue', { id: `queue:${queue.name}`, input: queue })
      ])
    ),
    index: new Map(),
    recent: new Set(),
    recentLimit: input.recentLimit
  }),
  initial: 'serving',
  on: {
    'SUPERVISOR.KILL': { actions: 'kill' },
    'JOB.ENDED': { actions: 'end' }
  },
  states: {
    serving: {
      on: {
        'SUPERVISOR.RUN': { actions: 'run' },
        'SUPERVISOR.PAUSE': { actions: 'forward' },
        'SUPERVISOR.RESUME': { actions: 'forward' },
        'SUPERVISOR.CLOSE': { target: 'closed', actions: 'close' }
      }
    },
    closed: {
      on: { 'SUPERVISOR.RUN': { actions: 'refuseRun' } }
    }
  }
});
