/**
 * Running one command of a job as a real process.
 *
 * The command gets its own session and process group, so everything it
 * starts can be found and signalled as one, and the supervisor's terminal
 * signals do not reach it. Its result is ready only when the command and
 * everything it left in its group are gone and its output is read.
 */

import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';

import { CommandLineError, splitCommand } from './command-line.js';
import {
  DEFAULT_DRAIN_MS,
  type CommandOptions,
  type CommandResult,
  type CommandSignal,
} from './command-types.js';
import { errorMessage } from './errno.js';
import { OutputBuffer } from './output.js';
import { ProcessGroup } from './process-group.js';
import { signalDescendants } from './process-tree.js';
import { spawnAs } from './run-as.js';
import { sharedSpawner } from './spawner.js';
import { checkWorkingDirectory, describeSpawnError } from './start-errors.js';

/** Longest the group stays frozen while its tree is signalled, in ms. */
const TREE_SIGNAL_TIMEOUT_MS = 2000;

/**
 * One command, run once. Construct, call {@link start}, await
 * {@link done}; {@link signal} stops it early.
 */
export class CommandProcess {
  /** The command string as given. */
  readonly command: string;

  /**
   * Resolves, never rejects, when the main process has exited, no live
   * process remains in its group, and its output has been read; or at
   * once when it could not start.
   */
  readonly done: Promise<CommandResult>;

  /**
   * Resolves with the main process's pid once it runs, or null when it
   * could not start. The spawn helper starts it shortly after
   * {@link start}.
   */
  readonly started: Promise<number | null>;

  #options: CommandOptions;
  #output: OutputBuffer;
  #resolve: (result: CommandResult) => void;
  #announce: (pid: number | null) => void;
  #state: 'idle' | 'running' | 'done' = 'idle';
  #argv: string[] = [];
  #pid: number | null = null;
  #group: ProcessGroup | null = null;
  #exited = false;
  #exitCode: number | null = null;
  #exitSignal: NodeJS.Signals | null = null;
  #startedAt = 0;
  #fault: string | null = null;
  /** A signal asked for before the process was there to take it. */
  #early: CommandSignal | null = null;
  #stream: Socket | null = null;
  /** Resolves once the output has been read to the end. */
  #drained: Promise<void>;
  #drainedNow!: () => void;

  /**
   * @param command program and arguments, split by `splitCommand`
   * @throws {RangeError} for a negative graceMs or drainMs, or a bad
   *   maxOutputBytes; a bad command only fails its result
   */
  constructor(command: string, options: CommandOptions) {
    assertDuration('graceMs', options.graceMs);
    if (options.drainMs !== undefined) {
      assertDuration('drainMs', options.drainMs);
    }
    this.command = command;
    this.#options = options;
    this.#output = new OutputBuffer(options.maxOutputBytes);

    let resolve!: (result: CommandResult) => void;
    this.done = new Promise((r) => (resolve = r));
    this.#resolve = resolve;
    this.#drained = new Promise((r) => (this.#drainedNow = r));
    let announce!: (pid: number | null) => void;
    this.started = new Promise((r) => (announce = r));
    this.#announce = announce;
  }

  /** Pid of the main process; null before start or if it never started. */
  get pid(): number | null {
    return this.#pid;
  }

  /**
   * The live output capture, the same object as the result's `output`;
   * readable while the command runs.
   */
  get output(): OutputBuffer {
    return this.#output;
  }

  /**
   * Spawns the command. Never throws for a bad command, program or
   * directory: {@link done} resolves with `error` set instead.
   *
   * @throws {Error} when called more than once
   */
  start(): void {
    if (this.#state !== 'idle') throw new Error('command already started');
    this.#state = 'running';
    this.#startedAt = preciseNow();

    try {
      this.#argv = splitCommand(this.command);
    } catch (err) {
      if (!(err instanceof CommandLineError)) throw err;
      return this.#settle(err.message);
    }

    const cwd = this.#options.cwd ?? process.cwd();

    const argv = this.#argv as [string, ...string[]];
    const [program] = argv;
    const launch = spawnAs(argv, this.#options.user);
    const spawner = this.#options.spawner ?? sharedSpawner();
    spawner.spawn({
      program: launch.program,
      args: launch.args,
      cwd,
      env: this.#options.env ?? process.env,
      uid: launch.uid,
      gid: launch.gid,
    }, {
      started: (pid, output) => {
        this.#capture(output);
        this.#watch(pid);
      },
      exited: (code, signal, lost) => {
        if (lost !== undefined) this.#fault ??= lost;
        this.#exited = true;
        this.#exitCode = code;
        this.#exitSignal = signal;
        void this.#finish();
      },
      // spawn() fails with ENOENT for a missing directory as for a
      // missing program: the directory is looked at only then.
      failed: (err) => this.#settle(
        checkWorkingDirectory(cwd) ?? describeSpawnError(err, program)
      ),
    });
  }

  /**
   * Sends a signal to the command's whole process tree: its group, unless
   * that is known to be empty, and, while the main process runs, its
   * descendants that left the group. No-op before start and once done.
   *
   * While the main process runs, the group is first frozen with SIGSTOP
   * until tree-kill has listed and signalled the descendants, then gets
   * the signal and SIGCONT. Unfrozen, a parent could exit while `ps` runs
   * and orphan an escaped descendant before it is found, and a shell whose
   * child is signalled first could exit with a status instead of being
   * ended by the signal. The freeze lasts as long as `ps` takes, at most
   * 2 s.
   *
   * @throws {TypeError} for any other signal
   */
  signal(signal: CommandSignal): void {
    if (signal !== 'SIGTERM' && signal !== 'SIGKILL') {
      throw new TypeError(`unsupported signal: ${String(signal)}`);
    }
    const group = this.#group;
    if (this.#state !== 'running') return;
    if (group === null) {
      if (this.#early !== 'SIGKILL') this.#early = signal;
      return;
    }

    if (this.#exited) {
      this.#signalGroup(group, signal);
      return;
    }
    this.#signalGroup(group, 'SIGSTOP');
    const listed = signalDescendants(group.pgid, signal)
      .catch((err) => this.#noteFault(`descendants of ${group.pgid}`, err));
    // A hung `ps` must not leave the group frozen.
    void within(listed, TREE_SIGNAL_TIMEOUT_MS).then(() => {
      this.#signalGroup(group, signal);
      this.#signalGroup(group, 'SIGCONT');
    });
  }

  #watch(pid: number): void {
    this.#pid = pid;
    this.#group = new ProcessGroup(pid);
    this.#options.onStart?.(pid);
    this.#announce(pid);
    if (this.#early !== null) this.signal(this.#early);
  }

  /** Copies the output into the buffer and onOutput until it closes. */
  #capture(stream: Socket): void {
    this.#stream = stream;
    const decoder = new StringDecoder('utf8');
    stream.on('data', (chunk: Buffer) => {
      this.#output.append(chunk);
      this.#emit(decoder.write(chunk));
    });
    // A read error ends the output like EOF; what came so far is kept.
    stream.on('error', () => {});
    stream.once('close', () => {
      this.#emit(decoder.end());
      this.#drainedNow();
    });
  }

  #emit(text: string): void {
    if (text !== '') this.#options.onOutput?.(text);
  }

  async #finish(): Promise<void> {
    const group = this.#group!;
    try {
      await group.sweep(this.#options.graceMs);
    } catch (err) {
      this.#noteFault(`process group ${group.pgid}`, err);
    }

    // A daemon that escaped the group may hold the pipes open for ever.
    const drainMs = this.#options.drainMs ?? DEFAULT_DRAIN_MS;
    if (!(await within(this.#drained, drainMs))) {
      this.#stream?.destroy();
      await this.#drained;
    }
    this.#settle(this.#fault);
  }

  #signalGroup(group: ProcessGroup, signal: NodeJS.Signals): void {
    if (this.#state !== 'running') return;
    try {
      group.signal(signal);
    } catch (err) {
      this.#noteFault(`process group ${group.pgid}`, err);
    }
  }

  #noteFault(target: string, err: unknown): void {
    this.#fault ??= `could not signal ${target}: ${errorMessage(err)}`;
  }

  #settle(error: string | null): void {
    this.#state = 'done';
    this.#announce(null);
    this.#resolve({
      command: this.command,
      argv: this.#argv,
      pid: this.#pid,
      startedAt: this.#startedAt,
      finishedAt: preciseNow(),
      exitCode: this.#exitCode,
      signal: this.#exitSignal,
      error,
      output: this.#output,
    });
  }
}

/**
 * Epoch milliseconds with a fraction: the gap between one command's end
 * and the next one's start is well under a millisecond.
 */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

function assertDuration(name: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`${name} must be a non-negative number, got ${ms}`);
  }
}

/** Resolves true if `promise` settles within `ms`, else false. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
