/**
 * The dispatcher: the supervisor actor with real work plugged in.
 *
 * It provides the machines' named effects (make a job actor, run a
 * command as a process, cancel a pending job), keeps the few things that
 * are not machine state (the job actors that run, their output), and
 * reports what happens as `'job'` events, which the event hub, the
 * logger and the specs listen to.
 *
 * TODO(structure): this file holds the effects, listing, inspection and
 * shutdown together (over 700 lines); listing and inspection should move
 * to modules of their own, reading the actors through a narrow view.
 */
import { EventEmitter } from 'node:events';

import {
  createActor,
  fromCallback,
  type Actor,
  type InspectionEvent,
  type StateValue
} from 'xstate';

import {
  jobMachine,
  type CommandOutcome,
  type JobContext,
  type JobEvent as MachineJobEvent,
  type KillRecord,
  type ProcessCommand,
  type RunCommandInput,
  type TreeSignal
} from '../../machines/job.js';
import { queueMachine, type QueuedJob } from '../../machines/queue.js';
import {
  supervisorMachine,
  type KillResult,
  type QueueConfig,
  type RunResult
} from '../../machines/supervisor.js';
import { CommandProcess, type OutputBuffer } from '../process/index.js';
import type { JobLaunch } from './launch.js';
import {
  jobLog,
  type CommandText,
  type Outcome,
  type WireState
} from './job-log.js';

export interface DispatcherOptions {
  queues: QueueConfig[];
  /** Default SIGTERM to SIGKILL grace period, milliseconds. */
  graceMs: number;
  /** Output kept in memory per command, bytes. */
  maxOutputBytes: number;
  /** Finished job ids remembered for kill replies. */
  recentJobs: number;
  /** Working directory of every command. */
  cwd: string;
  /** Environment of every command. Default: the server's. */
  env?: NodeJS.ProcessEnv;
  /**
   * Environment and user for one job's commands, overriding `env`;
   * default: `env` and the server's own user. See `JobLauncher`.
   */
  launch?: (job: { id: string; queue: string }) => JobLaunch;
}

/** A job as submitted: an id and its chain of commands. */
export interface JobRequest {
  id: string;
  commands: string[];
}

/** What the dispatcher reports. Times are epoch milliseconds. */
export type JobEvent =
  /** Jobs joined a queue; `restored` when brought back from the store. */
  | { type: 'queued'; jobs: QueuedJob[]; restored: boolean }
  | { type: 'started'; job: QueuedJob; log: Record<string, unknown> }
  /** The next command of a chain started; `previous` is how the last ended. */
  | {
      type: 'command';
      job: QueuedJob;
      index: number;
      pid: number;
      previous: CommandOutcome | undefined;
    }
  | { type: 'output'; job: QueuedJob; index: number; text: string }
  | {
      type: 'signalled';
      job: QueuedJob;
      signal: TreeSignal;
      by: string;
    }
  | {
      type: 'finished';
      job: QueuedJob;
      outcome: Outcome;
      startedAt: number | null;
      finishedAt: number;
      durationMs: number | null;
      outcomes: CommandOutcome[];
      kill: KillRecord | null;
      killedBy: string | null;
      log: Record<string, unknown>;
    };

/** One job as `list` reports it. */
export interface ListEntry {
  job: QueuedJob;
  state: 'pending' | 'running';
  /** 0 for running jobs, then 1, 2... in the order they will start. */
  position: number;
  pid: number | null;
  startedAt: number | null;
  index: number;
}

/** Which jobs `list` returns. */
export interface ListOptions {
  /** Only this queue. */
  queue?: string;
  /** At most this many jobs. */
  limit?: number;
  /** Start after this job id (the `next` of the previous page). */
  after?: string;
}

export interface Listing {
  entries: ListEntry[];
  /** Cursor for the next page, or null when this was the last. */
  next: string | null;
}

/**
 * A live actor's state changed: the supervisor (`id` 'supervisor'), a
 * queue (`id` its name) or a job (`id` the job id). `status` is XState's:
 * 'active', then 'done' once a job reached a final state.
 */
export interface ActorUpdate {
  kind: 'supervisor' | 'queue' | 'job';
  id: string;
  value: StateValue;
  status: string;
  /** The job's queue, for jobs. */
  queue?: string;
}

/** A running job's machine context and the tail of its output. */
export interface JobInspection {
  id: string;
  queue: string;
  commands: string[];
  index: number;
  pid: number | null;
  kill: KillRecord | null;
  value: StateValue;
  /** The last characters of the current command's output. */
  outputTail: string;
}

/** Output shown by `inspectJob`, characters. */
const OUTPUT_TAIL_CHARS = 4096;

type JobActor = Actor<typeof jobMachine>;

interface LiveJob {
  job: QueuedJob;
  actor: JobActor;
  /** Output of each command run so far; the last one may be growing. */
  outputs: OutputBuffer[];
  /** Whether its 'started' event went out. */
  announced: boolean;
}

export class Dispatcher extends EventEmitter<{
  job: [JobEvent];
  /** Only reported while someone listens; see `ActorUpdate`. */
  actor: [ActorUpdate];
  error: [unknown];
}> {
  readonly options: DispatcherOptions;
  #supervisor: Actor<typeof supervisorMachine> | null = null;
  #live = new Map<string, LiveJob>();
  #restoring = false;
  readonly #jobLogic: typeof jobMachine;

  constructor(options: DispatcherOptions) {
    super();
    this.options = options;
    this.#jobLogic = jobMachine.provide({
      actors: {
        runCommand: fromCallback<ProcessCommand, RunCommandInput>(
          ({ input, sendBack, receive }) =>
            this.#runCommand(input, sendBack, receive)
        )
      }
    });
  }

  /** Creates the queues and starts taking jobs. */
  start(): void {
    if (this.#supervisor) throw new Error('dispatcher already started');
    const logic = supervisorMachine.provide({
      actors: { queue: this.#queueLogic() }
    });
    this.#supervisor = createActor(logic, {
      input: {
        queues: this.options.queues,
        recentLimit: this.options.recentJobs
      },
      inspect: (event) => this.#inspectSystem(event)
    });
    this.#supervisor.start();
  }

  /** Names of the queues with their limits. */
  get queues(): QueueConfig[] {
    return this.options.queues;
  }

  /**
   * Queues jobs. Either all of them are queued, in order, or none is and
   * the result says why.
   */
  run(
    queue: string,
    requests: JobRequest[],
    by: string,
    from?: string
  ): RunResult {
    const now = Date.now();
    const jobs: QueuedJob[] = requests.map((request) => ({
      id: request.id,
      queue,
      commands: request.commands,
      submittedAt: now,
      submittedBy: by,
      ...(from !== undefined && { submittedFrom: from })
    }));
    return this.#enqueue(queue, jobs);
  }

  /**
   * Puts back jobs that were pending when the server last stopped, with
   * their original ids, submitters and times, in the order given.
   */
  restore(queue: string, jobs: QueuedJob[]): RunResult {
    this.#restoring = true;
    try {
      return this.#enqueue(queue, jobs);
    } finally {
      this.#restoring = false;
    }
  }

  /** Stops a queue from starting jobs; running ones go on. */
  pause(queue: string): void {
    this.#supervisorRef().send({ type: 'SUPERVISOR.PAUSE', queue });
  }

  /** Lets a paused queue start jobs again. */
  resume(queue: string): void {
    this.#supervisorRef().send({ type: 'SUPERVISOR.RESUME', queue });
  }

  /** Whether a queue is paused. */
  paused(queue: string): boolean {
    const ref = this.#supervisorRef().getSnapshot().context.queues.get(queue);
    return ref?.getSnapshot().matches('paused') ?? false;
  }

  #enqueue(queue: string, jobs: QueuedJob[]): RunResult {
    let result: RunResult | undefined;
    this.#supervisorRef().send({
      type: 'SUPERVISOR.RUN',
      queue,
      jobs,
      respond: (answer) => (result = answer)
    });
    return result!;
  }

  /**
   * Kills jobs: a pending job ends without starting, a running one gets
   * SIGTERM on its whole tree, then SIGKILL after `graceMs`.
   */
  kill(ids: string[], by: string, graceMs?: number): KillResult {
    let result: KillResult | undefined;
    this.#supervisorRef().send({
      type: 'SUPERVISOR.KILL',
      ids,
      by,
      graceMs,
      respond: (answer) => (result = answer)
    });
    return result!;
  }

  /**
   * Pending and running jobs in queue order (queues as configured; in
   * each, running jobs first, then pending ones in the order they will
   * start). `limit` and `after` (the last id of the previous page) page
   * through them; `next` is the cursor for the next page, or null.
   */
  list(options: ListOptions = {}): Listing {
    const limit = options.limit ?? Infinity;
    let skipping = options.after !== undefined;
    const entries: ListEntry[] = [];
    const start = options.after === undefined
      ? undefined
      : this.#pendingCursor(options.after);
    if (start) skipping = false;
    for (const entry of this.#entries(options.queue, start)) {
      if (skipping) {
        skipping = entry.job.id !== options.after;
        continue;
      }
      if (entries.length === limit) {
        return { entries, next: entries[entries.length - 1].job.id };
      }
      entries.push(entry);
    }
    if (skipping) {
      throw new Error(`job '${options.after}' is not pending or running`);
    }
    return { entries, next: null };
  }

  /**
   * Running jobs with the pid of the command running now (null between
   * two commands of a chain), without walking the pending ones.
   */
  *running(): Generator<{ job: QueuedJob; pid: number | null }> {
    for (const live of this.#live.values()) {
      yield { job: live.job, pid: live.actor.getSnapshot().context.pid };
    }
  }

  /** How many jobs run and wait in each queue. */
  queueSizes(): Map<string, { running: number; pending: number }> {
    const sizes = new Map<string, { running: number; pending: number }>();
    const { queues } = this.#supervisorRef().getSnapshot().context;
    for (const [name, ref] of queues) {
      const { pending, running } = ref.getSnapshot().context;
      sizes.set(name, { running: running.size, pending: pending.size });
    }
    return sizes;
  }

  /**
   * Where a page starts when its cursor is a pending job: found through
   * the queue's index rather than by walking every job before it.
   */
  #pendingCursor(id: string): { queue: string; id: string } | undefined {
    const { queues } = this.#supervisorRef().getSnapshot().context;
    for (const [name, ref] of queues) {
      if (ref.getSnapshot().context.pending.has(id)) return { queue: name, id };
    }
    return undefined;
  }

  *#entries(
    only?: string,
    start?: { queue: string; id: string }
  ): Generator<ListEntry> {
    const { queues } = this.#supervisorRef().getSnapshot().context;
    let started = start === undefined;
    for (const [name, ref] of queues) {
      if (only !== undefined && name !== only) continue;
      const { pending, running } = ref.getSnapshot().context;
      if (!started) {
        if (name !== start!.queue) continue;
        started = true;
        let position = pending.position(start!.id) + 1;
        for (const job of pending.after(start!.id)) {
          yield this.#pendingEntry(job, position++);
        }
        continue;
      }
      for (const id of running) {
        const live = this.#live.get(id);
        if (!live) continue;
        const context = live.actor.getSnapshot().context;
        yield {
          job: live.job,
          state: 'running',
          position: 0,
          pid: context.pid,
          startedAt: context.startedAt,
          index: context.index
        };
      }
      let position = 1;
      for (const job of pending) yield this.#pendingEntry(job, position++);
    }
  }

  #pendingEntry(job: QueuedJob, position: number): ListEntry {
    return {
      job, state: 'pending', position, pid: null, startedAt: null, index: 0
    };
  }

  /**
   * Every live actor's current state: the supervisor, each queue, each
   * running job (pending jobs have no actor of their own).
   */
  actors(): ActorUpdate[] {
    const supervisor = this.#supervisorRef().getSnapshot();
    const updates: ActorUpdate[] = [{
      kind: 'supervisor',
      id: 'supervisor',
      value: supervisor.value,
      status: supervisor.status
    }];
    for (const [name, ref] of supervisor.context.queues) {
      const snapshot = ref.getSnapshot();
      updates.push({
        kind: 'queue', id: name, value: snapshot.value, status: snapshot.status
      });
    }
    for (const [id, live] of this.#live) {
      const snapshot = live.actor.getSnapshot();
      updates.push({
        kind: 'job', id, queue: live.job.queue,
        value: snapshot.value, status: snapshot.status
      });
    }
    return updates;
  }

  /** A running job's context and output tail, or undefined. */
  inspectJob(id: string): JobInspection | undefined {
    const live = this.#live.get(id);
    if (!live) return undefined;
    const snapshot = live.actor.getSnapshot();
    const { context } = snapshot;
    const text = live.outputs[context.index]?.text() ?? '';
    return {
      id,
      queue: live.job.queue,
      commands: live.job.commands,
      index: context.index,
      pid: context.pid,
      kill: context.kill,
      value: snapshot.value,
      outputTail: text.slice(-OUTPUT_TAIL_CHARS)
    };
  }

  /** The log of a running job, or undefined. */
  runningLog(id: string): Record<string, unknown> | undefined {
    const live = this.#live.get(id);
    return live && this.#log(live, 'running', null);
  }

  /**
   * Stops taking jobs and starting pending ones (they stay pending), then
   * either kills every running job (`'kill'`: SIGTERM, SIGKILL after the
   * grace period) or lets them finish (`'wait'`). Resolves when every
   * running job's process tree is gone.
   */
  async stop(mode: 'kill' | 'wait' = 'kill'): Promise<void> {
    const supervisor = this.#supervisor;
    if (!supervisor) return;
    supervisor.send({ type: 'SUPERVISOR.CLOSE' });
    const endings = [...this.#live.values()].map(
      (live) =>
        new Promise<void>((resolve) => {
          live.actor.subscribe({ complete: resolve, error: () => resolve() });
          if (live.actor.getSnapshot().status !== 'active') resolve();
        })
    );
    if (mode === 'kill') this.kill([...this.#live.keys()], 'shutdown');
    await Promise.all(endings);
    supervisor.stop();
    this.#supervisor = null;
  }

  /** Sends SIGKILL to every running job's tree at once. */
  forceKill(): void {
    if (!this.#supervisor) return;
    const ids = [...this.#live.keys()];
    // A second kill escalates straight to SIGKILL; the first may be
    // needed when the stop was a 'wait'.
    this.kill(ids, 'shutdown', 0);
    this.kill(ids, 'shutdown', 0);
  }

  #supervisorRef(): Actor<typeof supervisorMachine> {
    if (!this.#supervisor) throw new Error('dispatcher not started');
    return this.#supervisor;
  }

  #queueLogic() {
    return queueMachine.provide({
      actions: {
        jobsQueued: (_, { jobs }) => {
          this.#report({ type: 'queued', jobs, restored: this.#restoring });
        },
        startJob: (_, { job }) => this.#startJob(job),
        cancelJob: (_, { job, by }) => this.#cancelJob(job, by),
        killJob: (_, { id, by, graceMs }) => {
          this.#live.get(id)?.actor.send({ type: 'JOB.KILL', by, graceMs });
        }
      }
    });
  }

  /** Reports state changes of the supervisor and its queues. */
  #inspectSystem(event: InspectionEvent): void {
    if (event.type !== '@xstate.snapshot') return;
    if (this.listenerCount('actor') === 0) return;
    const actorRef = event.actorRef as { id?: string };
    const id = actorRef.id ?? '';
    const snapshot = event.snapshot as { value?: StateValue; status: string };
    if (snapshot.value === undefined) return;
    const root = actorRef === (this.#supervisor as unknown);
    if (!root && !id.startsWith('queue:')) return;
    this.emit('actor', {
      kind: root ? 'supervisor' : 'queue',
      id: root ? 'supervisor' : id.slice('queue:'.length),
      value: snapshot.value,
      status: snapshot.status
    });
  }

  #startJob(job: QueuedJob): void {
    const actor = createActor(this.#jobLogic, {
      input: {
        id: job.id,
        queue: job.queue,
        commands: job.commands,
        graceMs: this.options.graceMs
      },
      inspect: (event) => {
        if (event.type !== '@xstate.snapshot') return;
        // The job's own snapshots; its process actors report none.
        if (event.actorRef !== (actor as unknown)) return;
        if (this.listenerCount('actor') === 0) return;
        const { value, status } = event.snapshot as unknown as {
          value: StateValue; status: string;
        };
        this.emit('actor', {
          kind: 'job', id: job.id, queue: job.queue, value, status
        });
      }
    });
    const live: LiveJob = { job, actor, outputs: [], announced: false };
    this.#live.set(job.id, live);
    // The first command's pid goes out with the 'started' event.
    actor.on('job.command', ({ index, pid }) => {
      if (index === 0) {
        this.#announce(live);
        return;
      }
      const previous = actor.getSnapshot().context.outcomes.at(-1);
      this.#report({ type: 'command', job, index, pid, previous });
    });
    actor.on('job.signalled', ({ signal }) => {
      this.#announce(live);
      const by = actor.getSnapshot().context.kill?.by ?? 'unknown';
      this.#report({ type: 'signalled', job, signal, by });
    });
    actor.subscribe({
      complete: () => this.#finishJob(live),
      error: (error) => this.#failJob(live, error)
    });
    actor.start();
    actor.send({ type: 'JOB.START' });
  }

  /**
   * Reports a job as started, once: when its first command has a pid, or
   * before whatever comes first of a kill signal or its end (a first
   * command that could not start).
   */
  #announce(live: LiveJob): void {
    if (live.announced) return;
    live.announced = true;
    this.#report({
      type: 'started',
      job: live.job,
      log: this.#log(live, 'running', null)
    });
  }

  #runCommand(
    input: RunCommandInput,
    sendBack: (event: MachineJobEvent) => void,
    receive: (listener: (event: ProcessCommand) => void) => void
  ): () => void {
    const live = this.#live.get(input.jobId);
    const launch = this.options.launch?.({
      id: input.jobId,
      queue: input.queue
    });
    const child = new CommandProcess(input.command, {
      cwd: this.options.cwd,
      env: launch?.env ?? this.options.env,
      user: launch?.user,
      graceMs: this.options.graceMs,
      maxOutputBytes: this.options.maxOutputBytes,
      onOutput: (text) => {
        if (live) {
          const { job } = live;
          this.#report({ type: 'output', job, index: input.index, text });
        }
      },
      onStart: (pid) => sendBack({ type: 'PROCESS.STARTED', pid })
    });
    child.start();
    if (live) live.outputs[input.index] = child.output;
    let finished = false;
    child.done.then((result) => {
      finished = true;
      sendBack({
        type: 'PROCESS.EXITED',
        outcome: {
          index: input.index,
          command: input.command,
          pid: result.pid,
          startedAt: result.startedAt,
          finishedAt: result.finishedAt,
          exitCode: result.exitCode,
          signal: result.signal,
          error: result.error
        }
      });
    });
    receive((event) => child.signal(event.signal));
    // The actor is stopped early only when its job actor is torn down;
    // never leave the tree behind.
    return () => {
      if (!finished) child.signal('SIGKILL');
    };
  }

  #cancelJob(job: QueuedJob, by: string): void {
    const now = Date.now();
    const kill: KillRecord = {
      by, requestedAt: now, graceMs: 0, signals: [], escalated: false
    };
    const log = jobLog({
      job,
      state: 'finished',
      index: 0,
      pid: null,
      startedAt: null,
      finishedAt: now,
      outcomes: [],
      outputs: [],
      kill,
      outcome: 'killed'
    });
    this.#report({
      type: 'finished',
      job,
      outcome: 'killed',
      startedAt: null,
      finishedAt: now,
      durationMs: null,
      outcomes: [],
      kill,
      killedBy: by,
      log
    });
    this.#supervisorRef().send({
      type: 'JOB.ENDED',
      id: job.id,
      queue: job.queue
    });
  }

  #finishJob(live: LiveJob): void {
    const snapshot = live.actor.getSnapshot();
    const { context } = snapshot;
    const outcome = finalOutcome(snapshot.value as string, context);
    this.#announce(live);
    this.#live.delete(live.job.id);
    this.#report({
      type: 'finished',
      job: live.job,
      outcome,
      startedAt: context.startedAt,
      finishedAt: context.finishedAt ?? Date.now(),
      durationMs:
        context.startedAt === null || context.finishedAt === null
          ? null
          : context.finishedAt - context.startedAt,
      outcomes: context.outcomes,
      kill: context.kill,
      killedBy: context.kill?.by ?? null,
      log: this.#log(live, 'finished', outcome)
    });
    this.#supervisor?.send({
      type: 'JOB.ENDED',
      id: live.job.id,
      queue: live.job.queue
    });
  }

  /** A job actor that fails is a bug; the queue must not stall on it. */
  #failJob(live: LiveJob, error: unknown): void {
    this.#live.delete(live.job.id);
    this.emit('error', error);
    this.#supervisor?.send({
      type: 'JOB.ENDED',
      id: live.job.id,
      queue: live.job.queue
    });
  }

  #log(
    live: LiveJob,
    state: WireState,
    outcome: Outcome | null
  ): Record<string, unknown> {
    const { context } = live.actor.getSnapshot();
    return jobLog({
      job: live.job,
      state,
      index: context.index,
      pid: context.pid,
      startedAt: context.startedAt,
      finishedAt: context.finishedAt,
      outcomes: context.outcomes,
      outputs: live.outputs.map(commandText),
      kill: context.kill,
      outcome
    });
  }

  #report(event: JobEvent): void {
    this.emit('job', event);
  }
}

function commandText(output: OutputBuffer): CommandText {
  return {
    text: output.text(),
    totalBytes: output.totalBytes,
    omittedBytes: output.omittedBytes
  };
}

function finalOutcome(state: string, context: JobContext): Outcome {
  if (state === 'killed') return 'killed';
  const failed = context.outcomes.some((outcome) => outcome.exitCode !== 0);
  return failed ? 'failure' : 'success';
}
