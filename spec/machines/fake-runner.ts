/**
 * A fake `runCommand` for the job machine specs: it starts no process.
 * The spec plays the process through it: it reports the start and the
 * exit, and reads the signals the job sent.
 */
import { createActor, fromCallback, type SimulatedClock } from 'xstate';

import {
  jobMachine,
  type CommandOutcome,
  type JobEmitted,
  type ProcessCommand,
  type RunCommandInput,
  type TreeSignal
} from '../../machines/job.js';

/** One run of the fake process actor, one command of the chain. */
export interface FakeProcess {
  input: RunCommandInput;
  signals: TreeSignal[];
  /** True once the job machine has stopped this actor. */
  stopped: boolean;
  started(pid: number): void;
  exited(result: Partial<CommandOutcome>): void;
}

/** A `runCommand` that starts no process, and the runs it was asked for. */
export function fakeRunner() {
  const runs: FakeProcess[] = [];
  const logic = fromCallback<ProcessCommand, RunCommandInput>(
    ({ input, sendBack, receive }) => {
      const run: FakeProcess = {
        input,
        signals: [],
        stopped: false,
        started: (pid) => sendBack({ type: 'PROCESS.STARTED', pid }),
        exited: (result) =>
          sendBack({
            type: 'PROCESS.EXITED',
            outcome: {
              index: input.index,
              command: input.command,
              pid: null,
              startedAt: 0,
              finishedAt: 0,
              exitCode: 0,
              signal: null,
              error: null,
              ...result
            }
          })
      };
      runs.push(run);
      receive((event) => run.signals.push(event.signal));
      return () => {
        run.stopped = true;
      };
    }
  );
  return { runs, logic };
}

export interface JobOptions {
  commands?: string[];
  /** Default grace period of the job's kills, milliseconds. */
  graceMs?: number;
  /** Clock for the grace period timer; default the real one. */
  clock?: SimulatedClock;
}

/**
 * Starts a job actor, still pending, on a fake runner; records what it
 * emits. Defaults: one command `true`, a grace period of 1000 ms.
 */
export function startJob(options: JobOptions = {}) {
  const runner = fakeRunner();
  const logic = jobMachine.provide({ actors: { runCommand: runner.logic } });
  const actor = createActor(logic, {
    input: {
      id: 'job-1',
      queue: 'main',
      commands: options.commands ?? ['true'],
      graceMs: options.graceMs ?? 1000
    },
    ...(options.clock ? { clock: options.clock } : {})
  });
  const emitted: JobEmitted[] = [];
  actor.on('*', (event) => emitted.push(event));
  actor.start();
  return { actor, runs: runner.runs, emitted };
}

/** The run of the fake process actor the job started last. */
export function current(runs: FakeProcess[]): FakeProcess {
  const run = runs.at(-1);
  if (!run) throw new Error('no command was started');
  return run;
}
