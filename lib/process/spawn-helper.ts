/**
 * The spawn helper: a small process that starts commands for the server.
 *
 * Node starts a child with fork() and waits until the child has called
 * exec, and fork() copies the page tables of the whole parent: the larger
 * the parent, the longer each spawn holds its event loop. This process
 * loads nothing but `child_process`, so its spawns are as cheap as Node's
 * get, and they hold its loop instead of the server's.
 *
 * Protocol, over the IPC channel (see `Spawner`): the helper says
 * `ready` once it listens (messages sent before are lost). The server sends a
 * {@link SpawnRequest}; the helper answers with `started` carrying the
 * child's stdout pipe, then `stderr` carrying its stderr pipe, then
 * `exited`; or with `failed` alone. The pipes are handed over unread, so
 * the server reads every byte itself. The helper ignores terminal signals
 * (the server decides when jobs end) and exits when the server is gone.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/** A command to start, as `child_process.spawn` takes it. */
export interface SpawnRequest {
  id: number;
  program: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

/** What went wrong with a spawn, as far as JSON carries an Error. */
export interface SpawnFailure {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export type HelperMessage =
  | { kind: 'ready' }
  | { kind: 'started'; id: number; pid: number }
  | { kind: 'stderr'; id: number }
  | { kind: 'exited'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { kind: 'failed'; id: number; error: SpawnFailure };

type Send = (message: HelperMessage, handle?: Socket) => void;

/** Starts one command and reports on it through `send`. */
export function startCommand(request: SpawnRequest, send: Send): void {
  let child: ChildProcess;
  try {
    child = spawn(request.program, request.args, {
      cwd: request.cwd,
      env: request.env,
      uid: request.uid,
      gid: request.gid,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    send({ kind: 'failed', id: request.id, error: failure(err) });
    return;
  }
  const { pid } = child;
  if (pid === undefined) {
    child.once('error', (err) => {
      send({ kind: 'failed', id: request.id, error: failure(err) });
    });
    return;
  }
  const stdout = handOver(child, 1);
  const stderr = handOver(child, 2);
  child.once('exit', (code, signal) => {
    send({ kind: 'exited', id: request.id, code, signal });
  });
  // Sends holding a pipe wait in order for the server's acknowledgement;
  // `exited` queues behind them.
  send({ kind: 'started', id: request.id, pid }, stdout);
  send({ kind: 'stderr', id: request.id }, stderr);
}

/**
 * Takes a pipe out of the child's stdio unread: Node starts reading a
 * child's pipes at once, and reads the rest on exit; every byte must stay
 * in the pipe for the server.
 */
function handOver(child: ChildProcess, fd: 1 | 2): Socket {
  const socket = child.stdio[fd] as Socket;
  const handle = (socket as unknown as { _handle: PipeHandle })._handle;
  handle.reading = false;
  handle.readStop();
  (child.stdio as unknown[])[fd] = null;
  return socket;
}

interface PipeHandle {
  reading: boolean;
  readStop(): number;
}

function failure(err: unknown): SpawnFailure {
  const e = err as NodeJS.ErrnoException;
  return {
    message: String(e?.message ?? err),
    code: e?.code,
    errno: e?.errno,
    syscall: e?.syscall,
    path: e?.path,
  };
}

function main(): void {
  const send: Send = (message, handle) => process.send!(message, handle);
  process.on('message', (request: SpawnRequest) => startCommand(request, send));
  process.on('disconnect', () => process.exit(0));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {});
  }
  send({ kind: 'ready' });
}

if (process.send !== undefined) main();
