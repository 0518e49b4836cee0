/**
 * The job machine: one chain of commands, run one after another.
 *
 *   pending ──JOB.START──▶ running ──▶ done
 *      │                      │
 *      └──────JOB.KILL────────┴─────▶ killed
 *
 * While a command runs, a kill walks `working → terminating → forcing`:
 * SIGTERM to the whole process tree, then SIGKILL once the grace period
 * is over (or at once on a second kill). The job only becomes `killed`
 * when the process actor reports that every process of the tree is gone.
 *
 * This file is a pure definition. The process actor (`runCommand`) is
 * named here and provided by the server, so specs can swap in fakes.
 */
import { assign, emit, enqueueActions, fromCallback, setup } from 'xstate';

/** A signal the machine may ask the process actor to send to the tree. */
export type TreeSignal = 'SIGTERM' | 'SIGKILL';

/** What one command of the chain did. Times are epoch milliseconds. */
export interface CommandOutcome {
  index: number;
  command: string;
  pid: number | null;
  startedAt: number;
  finishedAt: number;
  /** Exit status, or null when a signal ended it or it never started. */
  exitCode: number | null;
  signal: string | null;
  /** Why the command could not start (missing program, bad cwd...). */
  error: string | null;
}

/** Who asked for a kill, and how it went. */
export interface KillRecord {
  by: string;
  requestedAt: number;
  /** Grace period between SIGTERM and SIGKILL, milliseconds. */
  graceMs: number;
  signals: TreeSignal[];
  /** True when SIGKILL had to be sent. */
  escalated: boolean;
}

export interface JobInput {
  id: string;
  queue: string;
  commands: string[];
  /** Default grace period for kills, milliseconds. */
  graceMs: number;
}

export interface JobContext extends JobInput {
  /** Index of the command running now, or about to run. */
  index: number;
  pid: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  outcomes: CommandOutcome[];
  kill: KillRecord | null;
}

export type JobEvent =
  | { type: 'JOB.START' }
  | { type: 'JOB.KILL'; by: string; graceMs?: number }
  | { type: 'PROCESS.STARTED'; pid: number }
  | { type: 'PROCESS.EXITED'; outcome: CommandOutcome };

/** Sent by the job machine to its process actor. */
export type ProcessCommand = { type: 'PROCESS.SIGNAL'; signal: TreeSignal };

/** Handed to the process actor for the command it must run. */
export interface RunCommandInput {
  jobId: string;
  queue: string;
  index: number;
  command: string;
}

export type JobEmitted =
  | { type: 'job.started'; id: string }
  | { type: 'job.command'; id: string; index: number; pid: number }
  | { type: 'job.signalled'; id: string; signal: TreeSignal };

/** True when the command ended any other way than exit status 0. */
export function commandFailed(outcome: CommandOutcome): boolean {
  return outcome.exitCode !== 0;
}

const notProvided = fromCallback<ProcessCommand, RunCommandInput>(() => {
  throw new Error('the runCommand actor must be provided');
});

function killRecord(
  context: JobContext,
  event: { by: string; graceMs?: number },
  now: number
): KillRecord {
  return {
    by: event.by,
    requestedAt: now,
    graceMs: event.graceMs ?? context.graceMs,
    signals: [],
    escalated: false
  };
}

export const jobMachine = setup({
  types: {
    context: {} as JobContext,
    input: {} as JobInput,
    events: {} as JobEvent,
    emitted: {} as JobEmitted
  },
  actors: { runCommand: notProvided },
  delays: {
    grace: ({ context }) => context.kill?.graceMs ?? context.graceMs
  },
  guards: {
    killRequested: ({ context }) => context.kill !== null,
    commandFailed: ({ event }) =>
      event.type === 'PROCESS.EXITED' && commandFailed(event.outcome),
    moreCommands: ({ context }) =>
      context.index + 1 < context.commands.length
  },
  actions: {
    requestKill: assign({
      kill: ({ context, event }) =>
        event.type === 'JOB.KILL'
          ? killRecord(context, event, Date.now())
          : context.kill
    }),
    // One action sends the signal and records it, so the kill record
    // always lists exactly the signals that went out.
    signalTree: enqueueActions(
      ({ context, enqueue }, params: { signal: TreeSignal }) => {
        const { signal } = params;
        if (context.kill) {
          enqueue.assign({
            kill: {
              ...context.kill,
              signals: [...context.kill.signals, signal],
              escalated: context.kill.escalated || signal === 'SIGKILL'
            }
          });
        }
        enqueue.sendTo('process', { type: 'PROCESS.SIGNAL', signal });
        enqueue.emit({ type: 'job.signalled', id: context.id, signal });
      }
    ),
    recordPid: assign({
      pid: ({ context, event }) =>
        event.type === 'PROCESS.STARTED' ? event.pid : context.pid
    }),
    recordOutcome: assign({
      outcomes: ({ context, event }) =>
        event.type === 'PROCESS.EXITED'
          ? [...context.outcomes, event.outcome]
          : context.outcomes,
      pid: null
    }),
    nextCommand: assign({ index: ({ context }) => context.index + 1 }),
    markStarted: assign({ startedAt: () => Date.now() }),
    markFinished: assign({ finishedAt: () => Date.now() })
  }
}).createMachine({
  id: 'job',
  context: ({ input }) => ({
    ...input,
    index: 0,
    pid: null,
    startedAt: null,
    finishedAt: null,
    outcomes: [],
    kill: null
  }),
  initial: 'pending',
  states: {
    pending: {
      on: {
        'JOB.START': { target: 'running' },
        'JOB.KILL': { target: 'killed', actions: 'requestKill' }
      }
    },
    running: {
      entry: [
        'markStarted',
        emit(({ context }) => ({ type: 'job.started', id: context.id }))
      ],
      initial: 'command',
      states: {
        command: {
          invoke: {
            id: 'process',
            src: 'runCommand',
            input: ({ context }) => ({
              jobId: context.id,
              queue: context.queue,
              index: context.index,
              command: context.commands[context.index]
            })
          },
          initial: 'working',
          states: {
            working: {
              on: {
                'JOB.KILL': { target: 'terminating', actions: 'requestKill' }
              }
            },
            terminating: {
              entry: { type: 'signalTree', params: { signal: 'SIGTERM' } },
              after: { grace: 'forcing' },
              on: { 'JOB.KILL': 'forcing' }
            },
            forcing: {
              entry: { type: 'signalTree', params: { signal: 'SIGKILL' } }
            }
          },
          on: {
            'PROCESS.STARTED': {
              actions: [
                'recordPid',
                emit(({ context, event }) => ({
                  type: 'job.command',
                  id: context.id,
                  index: context.index,
                  pid: event.pid
                }))
              ]
            },
            'PROCESS.EXITED': [
              {
                guard: 'killRequested',
                target: '#job.killed',
                actions: 'recordOutcome'
              },
              {
                guard: 'commandFailed',
                target: '#job.done',
                actions: 'recordOutcome'
              },
              {
                guard: 'moreCommands',
                target: 'command',
                reenter: true,
                actions: ['recordOutcome', 'nextCommand']
              },
              { target: '#job.done', actions: 'recordOutcome' }
            ]
          }
        }
      }
    },
    done: { type: 'final', entry: 'markFinished' },
    killed: { type: 'final', entry: 'markFinished' }
  }
});
