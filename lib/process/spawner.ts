/**
 * Starting commands through the spawn helper (see `spawn-helper.ts`).
 *
 * One helper serves many commands at once. Its IPC channel keeps this
 * process alive only while a command it started is running. Should the
 * helper die, every command it was running is reported as exited with an
 * error (their process groups are then swept like any other), and the
 * next spawn starts a new helper.
 */

import { fork, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

import { OutputPairs } from './output-pairs.js';
import {
  startCommand,
  type HelperMessage,
  type SpawnFailure,
  type SpawnRequest,
} from './spawn-helper.js';

const HELPER_PATH = fileURLToPath(new URL('./spawn-helper.js', import.meta.url));

/** A command to start; see `child_process.spawn` for the fields. */
export type SpawnOptions = Omit<SpawnRequest, 'id'>;

/** What the owner of a spawn hears, in this order. */
export interface SpawnListener {
  /**
   * The command runs; `output` is the reading end of its stdout and
   * stderr, unread. Listen at once: output whose writers are all gone
   * ends within the turn.
   */
  started(pid: number, output: Socket): void;
  /** Its main process exited (code or signal), or the helper died (both null, `lost` set). */
  exited(code: number | null, signal: NodeJS.Signals | null, lost?: string): void;
  /** It could not start; `error` has the errno fields spawn() gives. */
  failed(error: NodeJS.ErrnoException): void;
}

interface Pending {
  listener: SpawnListener;
  pid?: number;
}

export class Spawner {
  #helper: ChildProcess | null = null;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Requests made before the helper said it is ready. */
  #waiting: SpawnRequest[] | null = null;

  /** Pid of the helper, null while none runs. */
  get pid(): number | null {
    return this.#helper?.pid ?? null;
  }

  /**
   * Starts the helper ahead of the first command, which would otherwise
   * wait for it to load (a few hundred ms on a busy machine).
   */
  warm(): void {
    this.#helper ??= this.#startHelper();
  }

  /** Starts a command; `listener` hears what becomes of it. */
  spawn(options: SpawnOptions, listener: SpawnListener): void {
    const helper = this.#helper ?? this.#startHelper();
    const id = this.#nextId++;
    this.#pending.set(id, { listener });
    if (this.#pending.size === 1) helper.channel?.ref();
    const request: SpawnRequest = { ...options, id };
    if (this.#waiting) this.#waiting.push(request);
    else helper.send(request);
  }

  /**
   * Stops the helper once no command it started runs (a later spawn
   * starts another); resolves when it has exited. While commands run, it
   * is left alone: they may belong to another user of this spawner.
   */
  async close(): Promise<void> {
    const helper = this.#helper;
    if (!helper || this.#pending.size > 0) return;
    // A spawn from now on starts a new helper rather than writing to
    // this one's closing channel.
    this.#helper = null;
    this.#waiting = null;
    const exited = new Promise((resolve) => helper.once('exit', resolve));
    helper.disconnect();
    await exited;
  }

  #startHelper(): ChildProcess {
    const helper = fork(HELPER_PATH, [], {
      // The server's own flags (a profiler, an inspector) are not for it.
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    this.#helper = helper;
    this.#waiting = [];
    helper.on('message', (message: HelperMessage, handle?: Socket) => {
      // A helper being closed has nothing pending; it may still say ready.
      if (this.#helper === helper) this.#receive(message, handle);
      else handle?.destroy();
    });
    helper.on('exit', (code, signal) => this.#lost(helper, code, signal));
    helper.on('error', () => {});
    helper.unref();
    helper.channel?.unref();
    return helper;
  }

  #receive(message: HelperMessage, handle: Socket | undefined): void {
    if (message.kind === 'ready') {
      const waiting = this.#waiting ?? [];
      this.#waiting = null;
      for (const request of waiting) this.#helper?.send(request);
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) {
      handle?.destroy();
      return;
    }
    switch (message.kind) {
      case 'started':
        pending.pid = message.pid;
        pending.listener.started(message.pid, handle ?? closedSocket());
        break;
      case 'exited':
        this.#settle(message.id);
        pending.listener.exited(message.code, message.signal);
        break;
      case 'failed':
        this.#settle(message.id);
        pending.listener.failed(spawnError(message.error));
        break;
    }
  }

  #settle(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#helper?.channel?.unref();
  }

  #lost(helper: ChildProcess, code: number | null, signal: string | null): void {
    if (this.#helper !== helper) return;
    this.#helper = null;
    this.#waiting = null;
    const why = `the spawn helper exited (${signal ?? `code ${code}`})`;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const { listener, pid } of pending) {
      // A command that runs is ended by its owner, like any other.
      if (pid === undefined) listener.failed(spawnError({ message: why }));
      else listener.exited(null, null, why);
    }
  }
}

function spawnError(failure: SpawnFailure): NodeJS.ErrnoException {
  return Object.assign(new Error(failure.message), {
    code: failure.code,
    errno: failure.errno,
    syscall: failure.syscall,
    path: failure.path,
  });
}

/**
 * Spawns in this process, without a helper: the event loop waits for
 * each fork. The output goes through the same kind of socket pair.
 */
export class InlineSpawner {
  /** There is no helper. */
  readonly pid = null;
  #pairs: OutputPairs | null = null;

  /** Makes the first output pairs ahead of the first command. */
  warm(): void {
    this.#pairs ??= new OutputPairs();
  }

  /** Closes the sockets that output pairs come from. */
  async close(): Promise<void> {
    this.#pairs?.close();
    this.#pairs = null;
  }

  spawn(options: SpawnOptions, listener: SpawnListener): void {
    this.#pairs ??= new OutputPairs();
    this.#pairs.take().then(
      (pair) => startCommand({ ...options, id: 0 }, pair, (message, handle) => {
        if (message.kind === 'started') {
          // Made paused for the helper; here its reader is its owner.
          handle!.resume();
          listener.started(message.pid, handle!);
        }
        else if (message.kind === 'exited') {
          listener.exited(message.code, message.signal);
        } else if (message.kind === 'failed') {
          listener.failed(spawnError(message.error));
        }
      }),
      (err: Error) => listener.failed(err),
    );
  }
}

/** Output that has already ended: for a helper that sent none. */
function closedSocket(): Socket {
  const socket = new Socket();
  socket.destroy();
  return socket;
}

let shared: Spawner | InlineSpawner | null = null;

/** The process-wide spawner, made on first use. */
export function sharedSpawner(): Spawner | InlineSpawner {
  shared ??= process.env.DISPATCHER_SPAWN === 'inline'
    ? new InlineSpawner()
    : new Spawner();
  return shared;
}
