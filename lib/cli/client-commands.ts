/**
 * The client commands about live jobs: list, kill, pause and resume.
 * Each connects over WebSocket, logs in, and prints what it got, as a
 * table for people or, with `--json`, as the server's reply.
 */
import { connect, type ClientFlags } from './connection.js';
import {
  colours,
  elapsed,
  paint,
  table,
  usageCells,
  visible,
  type Usage
} from './format.js';

export { connect, defaultUrl, resolveConnection } from './connection.js';
export type { ClientFlags } from './connection.js';

/** A pending or running job as `list` sends it. */
export interface ListedJob extends Usage {
  commands: string[];
  state: string;
  queue_position?: string;
  pid: number | null;
  current_cmd: string;
  time_started: string | null;
}

/** The columns of `list`, in order. */
export const listColumns = ['ID', 'QUEUE', 'STATE', 'POS', 'PID', 'CPU',
  'MEM', 'ELAPSED', 'COMMAND'];

/** Prints pending and running jobs as a table, then any paused queues. */
export async function listCommand(
  flags: ClientFlags & { queue?: string }
): Promise<void> {
  const client = await connect(flags);
  try {
    const args: Record<string, unknown> = { action: 'list' };
    if (flags.queue) args.queue = flags.queue;
    const reply = await client.dispatcher(args);
    if (flags.json) return print(reply);
    const c = colours();
    const rows = listRows(reply.jobs, c);
    if (rows.length === 0) console.log('no pending or running jobs');
    else console.log(table(listColumns, rows, c));
    const paused = Object.entries<{ paused?: boolean }>(reply.queues)
      .filter(([, queue]) => queue.paused).map(([name]) => name);
    if (paused.length > 0) {
      console.log(c.yellow('paused (start nothing until resumed): ') +
        paused.join(', '));
    }
  } finally {
    await client.close();
  }
}

/** One table row per job of a `list` reply, queue by queue. */
export function listRows(
  jobs: Record<string, Record<string, ListedJob>>,
  c: ReturnType<typeof colours>,
  now = Date.now()
): string[][] {
  const rows: string[][] = [];
  for (const [queue, byId] of Object.entries(jobs)) {
    for (const [id, job] of Object.entries(byId)) {
      const [cpu, memory] = job.state === 'running'
        ? usageCells(job) : ['-', '-'];
      rows.push([
        visible(id), queue, paint(job.state, c), job.queue_position ?? '-',
        job.pid === null ? '-' : String(job.pid), cpu, memory,
        elapsed(job.time_started, now),
        visible(job.current_cmd || job.commands.join(' → '))
      ]);
    }
  }
  return rows;
}

/** Pauses or resumes a queue. */
export async function pauseCommand(
  queue: string,
  pause: boolean,
  flags: ClientFlags
): Promise<void> {
  const client = await connect(flags);
  try {
    const reply = await client.dispatcher({
      action: pause ? 'pause' : 'resume', queue
    });
    if (flags.json) print(reply);
    else console.log(`${queue} ${reply.paused ? 'paused' : 'running'}`);
  } finally {
    await client.close();
  }
}

/**
 * Kills jobs; resolves false when an id was unknown, so the command can
 * exit 1 for it.
 */
export async function killCommand(
  ids: string[],
  flags: ClientFlags & { grace?: string }
): Promise<boolean> {
  const client = await connect(flags);
  try {
    const args: Record<string, unknown> = { action: 'kill', job_id: ids };
    if (flags.grace !== undefined) args.grace = Number(flags.grace);
    const { killed } = await client.dispatcher(args);
    if (flags.json) print({ killed });
    else {
      if (killed.jobs.length) console.log(`killing: ${killed.jobs.join(' ')}`);
      if (killed.finished.length) {
        console.log(`already finished: ${killed.finished.join(' ')}`);
      }
      if (killed.unknown.length) {
        console.log(`unknown: ${killed.unknown.join(' ')}`);
      }
    }
    return killed.unknown.length === 0;
  } finally {
    await client.close();
  }
}

/** Prints a value as indented JSON on standard output. */
export function print(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
