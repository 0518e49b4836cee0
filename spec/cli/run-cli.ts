/**
 * Runs the real `dispatcher` binary for the command-line specs.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The entry point the package installs as `dispatcher`. */
export const bin = fileURLToPath(
  new URL('../../../bin/dispatcher.js', import.meta.url));

/** How one run of the binary ended. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `dispatcher ARGS...` with `env` added to this process's
 * environment; a variable set to undefined is removed. Never rejects.
 */
export function cli(
  args: string[],
  env: Record<string, string | undefined>
): Promise<Run> {
  const merged: Record<string, string | undefined> = { ...process.env };
  // Neither the specs' terminal nor a config file of whoever runs them
  // may change what the binary does.
  delete merged.FORCE_COLOR;
  delete merged.NO_COLOR;
  merged.XDG_CONFIG_HOME = '/nonexistent/dispatcher-spec-config';
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete merged[name];
    else merged[name] = value;
  }
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: merged },
      (error, stdout, stderr) => {
        const code = error
          ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}
