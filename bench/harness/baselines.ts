/**
 * Baselines without the dispatcher: what plain `child_process.spawn`
 * and plain signals achieve on this machine, run from the benchmark
 * process itself.
 *
 * Commands are spawned the way the server spawns them (own process
 * group, stdin ignored, stdout and stderr piped and read to the end), so
 * a ratio against these measures the supervisor, not the cost of pipes.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';

import { liveGroupMembers, markedEnv, waitUntil } from './processes.js';

/** What {@link spawnLoop} measured. */
export interface SpawnLoopResult {
  /** Wall time for all commands, ms. */
  ms: number;
  /** Commands per second. */
  rate: number;
  /**
   * With one in flight: from each command's end (its pipes closed) to
   * the next spawn call, ms.
   */
  gaps: number[];
}

/**
 * Runs `program` `count` times with at most `inFlight` at once, each
 * started as soon as a slot frees.
 */
export async function spawnLoop(
  program: string,
  count: number,
  inFlight: number
): Promise<SpawnLoopResult> {
  const gaps: number[] = [];
  let next = 0;
  let lastEnd: number | null = null;
  const start = performance.now();

  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      const spawnAt = performance.now();
      if (inFlight === 1 && lastEnd !== null) gaps.push(spawnAt - lastEnd);
      await runOnce(program, []);
      lastEnd = performance.now();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));

  const ms = performance.now() - start;
  return { ms, rate: count / (ms / 1000), gaps };
}

/**
 * Runs one command like the server does; resolves when it has exited
 * and both pipes are closed.
 *
 * @returns its exit code
 */
export function runOnce(program: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawnMarked(program, args);
    child.stdout.resume();
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
}

/**
 * Time for a shell pipeline to move `bytes` zero bytes through a pipe
 * into /dev/null: the speed a job's output could reach at best.
 *
 * @returns bytes per second
 */
export async function pipeThroughput(bytes: number): Promise<number> {
  const start = performance.now();
  const code = await runOnce('sh',
    ['-c', `head -c ${bytes} /dev/zero | cat > /dev/null`]);
  const ms = performance.now() - start;
  if (code !== 0) throw new Error(`the pipe baseline exited ${code}`);
  return bytes / (ms / 1000);
}

/**
 * Time for this Node.js process to read `bytes` zero bytes from a
 * child's stdout pipe and throw them away: the speed a Node.js server
 * could reach at best, with libuv reading at most 64 KiB per callback.
 *
 * @returns bytes per second
 */
export async function nodeReadThroughput(bytes: number): Promise<number> {
  const start = performance.now();
  const read = await new Promise<number>((resolve, reject) => {
    const child = spawnMarked('head', ['-c', String(bytes), '/dev/zero']);
    let total = 0;
    child.stdout.on('data', (chunk: Buffer) => (total += chunk.length));
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', () => resolve(total));
  });
  const ms = performance.now() - start;
  if (read !== bytes) throw new Error(`read ${read} of ${bytes} bytes`);
  return bytes / (ms / 1000);
}

/**
 * Starts `script` with `sh -c` in its own process group, waits until
 * the group has `size` live processes, sends the group SIGTERM and
 * measures until none of them is alive.
 *
 * @returns ms from the signal to the last process gone
 */
export async function killTreeDirectly(
  script: string,
  size: number
): Promise<number> {
  const child = spawnMarked('sh', ['-c', script]);
  child.stdout.resume();
  child.stderr.resume();
  const pgid = child.pid!;
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitUntil(() => liveGroupMembers(pgid).length >= size,
    `${size} processes in group ${pgid}`);

  const start = performance.now();
  process.kill(-pgid, 'SIGTERM');
  await waitUntil(() => exited && liveGroupMembers(pgid).length === 0,
    `group ${pgid} to be gone`, 10_000, 1);
  return performance.now() - start;
}

/**
 * Spawns a process as the server spawns a command: its own process
 * group, stdin ignored, stdout and stderr piped, here in the temporary
 * directory and marked as this run's.
 */
function spawnMarked(program: string, args: string[]) {
  return spawn(program, args, {
    cwd: tmpdir(),
    env: markedEnv(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe']
  });
}
