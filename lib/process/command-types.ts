/**
 * The options and result of running one command; see `CommandProcess`.
 */

import type { OutputBuffer } from './output.js';
import type { RunAs } from './run-as.js';
import type { Spawner } from './spawner.js';

/** Default {@link CommandOptions.drainMs}: 500 ms. */
export const DEFAULT_DRAIN_MS = 500;

/** How to run one command. */
export interface CommandOptions {
  /** Working directory; default `process.cwd()`. */
  cwd?: string;
  /** Environment; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * User to run as (see `lookupUser`); default the server's own. The
   * working directory is entered before the switch, so it need not be
   * readable by that user.
   */
  user?: RunAs | null;
  /**
   * ms between SIGTERM and SIGKILL for processes still in the group after
   * the main process exits.
   */
  graceMs: number;
  /** Bytes of output to keep; see {@link OutputBuffer}. */
  maxOutputBytes: number;
  /**
   * ms to wait for end of output once the group is empty, for when an
   * escaped daemon holds the pipes open; default {@link DEFAULT_DRAIN_MS}.
   */
  drainMs?: number;
  /**
   * Receives output as decoded text, in arrival order, never splitting a
   * character. Called synchronously from stream events: it must not throw.
   */
  onOutput?: (text: string) => void;
  /** Told the main process's pid once it runs. */
  onStart?: (pid: number) => void;
  /** Starts the process; default the process-wide `sharedSpawner()`. */
  spawner?: Pick<Spawner, 'spawn'>;
}

/** What became of one command. */
export interface CommandResult {
  command: string;
  /** Program and arguments; empty when the command could not be split. */
  argv: string[];
  /** Pid of the main process; null when it never started. */
  pid: number | null;
  /** When start() was called, epoch ms (the process runs a little later). */
  startedAt: number;
  /** When the result was ready, epoch ms. */
  finishedAt: number;
  /** Exit code; null when ended by a signal or never started. */
  exitCode: number | null;
  /** Signal that ended the main process, if one did. */
  signal: NodeJS.Signals | null;
  /**
   * Why it could not start (e.g. `program not found: nosuchprog`), or why
   * its processes could not be signalled; null otherwise.
   */
  error: string | null;
  /** Its stdout and stderr, merged in arrival order. */
  output: OutputBuffer;
}

/** Signals a job may send to a running command. */
export type CommandSignal = 'SIGTERM' | 'SIGKILL';
