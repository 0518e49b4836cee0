/**
 * The spawn helper: a small process that starts commands for the server.
 *
 * Node starts a child with fork() and waits until the child has called
 * exec, and fork() copies the page tables of the whole parent: the larger
 * the parent, the longer each spawn holds its event loop. This process
 * loads little besides `child_process`, so its spawns are as cheap as Node's
 * get, and they hold its loop instead of the server's.
 *
 * Protocol, over the IPC channel (see `Spawner`): the helper says
 * `ready` once it listens (messages sent before are lost). The server sends a
 * {@link SpawnRequest}; the helper answers with `started` carrying the
 * reading end of the command's output (its stdout and stderr, see
 * `OutputPairs`), then `exited`; or with `failed` alone. The output is
 * handed over unread, so the server reads every byte itself. The helper ignores terminal signals
 * (the server decides when jobs end) and exits when the server is gone.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

import { OutputPairs, type OutputPair } from './output-pairs.js';

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
  | { kind: 'exited'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { kind: 'failed'; id: number; error: SpawnFailure };

type Send = (message: HelperMessage, handle?: Socket) => void;

/**
 * Starts one command with `pair`'s writer as its stdout and stderr and
 * reports on it through `send`; `started` carries the pair's reader.
 */
export function startCommand(
  request: SpawnRequest,
  pair: OutputPair,
  send: Send,
): void {
  let child: ChildProcess;
  try {
    child = spawn(request.program, request.args, {
      cwd: request.cwd,
      env: request.env,
      uid: request.uid,
      gid: request.gid,
      detached: true,
      stdio: ['ignore', pair.writer, pair.writer],
    });
  } catch (err) {
    fail(request, pair, err, send);
    return;
  }
  // The command holds the writer now; only its end closes the output.
  pair.writer.destroy();
  const { pid } = child;
  if (pid === undefined) {
    child.once('error', (err) => fail(request, pair, err, send));
    return;
  }
  child.once('exit', (code, signal) => {
    send({ kind: 'exited', id: request.id, code, signal });
  });
  send({ kind: 'started', id: request.id, pid }, pair.reader);
}

function fail(
  request: SpawnRequest,
  pair: OutputPair,
  err: unknown,
  send: Send,
): void {
  pair.writer.destroy();
  pair.reader.destroy();
  send({ kind: 'failed', id: request.id, error: failure(err) });
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
  const pairs = new OutputPairs();
  process.on('message', (request: SpawnRequest) => {
    pairs.take().then(
      (pair) => startCommand(request, pair, send),
      (err) => send({ kind: 'failed', id: request.id, error: failure(err) }),
    );
  });
  process.on('exit', () => pairs.close());
  process.on('disconnect', () => process.exit(0));
  // The server may be gone before this module finished loading.
  if (!process.connected) process.exit(0);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {});
  }
  send({ kind: 'ready' });
}

if (process.send !== undefined) main();
