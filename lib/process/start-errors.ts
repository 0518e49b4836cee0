/**
 * Readable reasons for a command that could not start.
 *
 * spawn() reports a missing working directory as ENOENT, the same code as
 * a missing program, so when a spawn fails the directory is checked, and
 * each failure gets a reason that names the thing at fault.
 */

import { accessSync, constants, statSync } from 'node:fs';

import { errorCode, errorMessage } from './errno.js';

/**
 * Checks that a command can run in `cwd`.
 *
 * @param cwd working directory, absolute or relative to ours
 * @returns null when usable, else a reason such as
 *   `working directory does not exist: /nope`
 */
export function checkWorkingDirectory(cwd: string): string | null {
  try {
    if (!statSync(cwd).isDirectory()) {
      return `working directory is not a directory: ${cwd}`;
    }
    // Entering a directory needs search (x) permission on it.
    accessSync(cwd, constants.X_OK);
    return null;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return `working directory does not exist: ${cwd}`;
    }
    if (code === 'EACCES') return `permission denied: working directory ${cwd}`;
    return `working directory is not usable: ${cwd} (${errorMessage(err)})`;
  }
}

/**
 * Turns a spawn() failure into a reason naming the program.
 *
 * @param err what spawn() threw or emitted
 * @param program the program as written in the command
 * @returns e.g. `program not found: nosuchprog`,
 *   `permission denied: ./script.sh`, or the code and message
 */
export function describeSpawnError(err: unknown, program: string): string {
  const code = errorCode(err);
  if (code === 'ENOENT') return `program not found: ${program}`;
  if (code === 'EACCES') return `permission denied: ${program}`;
  const reason = code === undefined ? errorMessage(err)
    : `${code}: ${errorMessage(err)}`;
  return `could not start ${program}: ${reason}`;
}
