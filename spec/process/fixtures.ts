/**
 * Processes for specs: commands that run node scripts, a view of the
 * process table that ignores zombies, and cleanup of whatever a failed
 * spec leaves running.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CommandProcess,
  type CommandOptions,
} from '../../lib/process/index.js';

/** Defaults for specs: short grace and drain, small output limit. */
const SPEC_OPTIONS: CommandOptions = {
  graceMs: 300,
  maxOutputBytes: 64 * 1024,
  drainMs: 200,
};

const launched: CommandProcess[] = [];
const strays = new Set<number>();
const groups = new Set<number>();
const tempDirs: string[] = [];

/** Node script: starts `sleep 300` in a new session, prints its pid. */
export const ESCAPE_AND_STAY = [
  "const c = require('child_process').spawn('sleep', ['300'],",
  "  { detached: true, stdio: 'ignore' });",
  'console.log(c.pid);',
  'setInterval(() => {}, 1000);',
].join('\n');

/**
 * Node script: leaves `sleep 300` in a new session holding stdout and
 * stderr open, prints its pid and exits.
 */
export const ESCAPE_AND_EXIT = [
  "const c = require('child_process').spawn('sleep', ['300'],",
  "  { detached: true, stdio: ['ignore', 'inherit', 'inherit'] });",
  'console.log(c.pid);',
  'c.unref();',
].join('\n');

/**
 * A command string that runs `script` with this node binary, quoted so
 * that splitCommand hands the script over unchanged.
 */
export function nodeCommand(script: string): string {
  const quoted = script.replace(/["\\]/g, '\\$&');
  return `"${process.execPath}" -e "${quoted}"`;
}

/** Creates and starts a command, remembering it for {@link cleanUp}. */
export function launch(
  command: string,
  options: Partial<CommandOptions> = {},
): CommandProcess {
  const child = new CommandProcess(command, { ...SPEC_OPTIONS, ...options });
  launched.push(child);
  child.start();
  return child;
}

/** Makes an empty directory that {@link cleanUp} removes. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dispatcher-process-spec-'));
  tempDirs.push(dir);
  return dir;
}

/** Remembers a pid outside any command's group, to kill in cleanUp. */
export function trackStray(pid: number): void {
  strays.add(pid);
}

/** A process spawned directly by a spec, leading its own group. */
export interface RawProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process has exited and been reaped. */
  exited: Promise<unknown>;
}

/**
 * Spawns `program` in its own process group without the code under test,
 * stdout piped, remembering the group for {@link cleanUp}.
 */
export function spawnGroup(program: string, args: string[]): RawProcess {
  const child = spawn(program, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${program}`);
  groups.add(pid);
  return { child, pid, exited: once(child, 'exit') };
}

/** Resolves with the first line a process prints on stdout. */
export async function firstLine(child: ChildProcess): Promise<string> {
  let text = '';
  for await (const chunk of child.stdout!) {
    text += String(chunk);
    const end = text.indexOf('\n');
    if (end >= 0) return text.slice(0, end);
  }
  throw new Error(`no line before end of output: ${JSON.stringify(text)}`);
}

/** Kills everything specs started that still runs; removes temp dirs. */
export async function cleanUp(): Promise<void> {
  for (const pid of strays) killQuietly(pid);
  // A group id is only reusable once empty, so one with members is ours.
  for (const pgid of groups) {
    if (liveGroupPids(pgid).length > 0) killQuietly(-pgid);
  }
  strays.clear();
  groups.clear();
  for (const dir of tempDirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
  const running = launched.splice(0);
  for (const child of running) child.signal('SIGKILL');
  await Promise.all(running.map((child) => child.done));
}

/**
 * Pids of the processes in a group that still run, read from `ps`
 * independently of the code under test. Zombies are left out: they are
 * dead, and where PID 1 does not reap orphans they linger.
 */
export function liveGroupPids(pgid: number): number[] {
  return processTable()
    .filter((row) => row.pgid === pgid && !row.zombie)
    .map((row) => row.pid);
}

/** Tells whether a process runs (exists and is not a zombie). */
export function isRunning(pid: number): boolean {
  return processTable().some((row) => row.pid === pid && !row.zombie);
}

function killQuietly(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // already gone, which is what the spec wanted
  }
}

interface Row {
  pid: number;
  pgid: number;
  zombie: boolean;
}

function processTable(): Row[] {
  const text = execFileSync('ps', ['-e', '-o', 'pid=,pgid=,stat='], {
    encoding: 'utf8',
  });
  return text.split('\n').flatMap((line) => {
    const [pid, pgid, stat] = line.trim().split(/\s+/);
    if (stat === undefined) return [];
    return [{ pid: Number(pid), pgid: Number(pgid), zombie: stat[0] === 'Z' }];
  });
}
