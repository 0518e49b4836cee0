/**
 * Client commands about what ran: `logs` prints a job's output
 * (following it while it runs) and `history` lists finished jobs.
 */
import { setTimeout as delay } from 'node:timers/promises';

import type { Client } from '../client/client.js';
import { connect, type ClientFlags } from './connection.js';
import { colours, paint, table, visible } from './format.js';

/** How often `logs --follow` looks for new output, ms. */
const FOLLOW_INTERVAL_MS = 250;

interface CommandEntry {
  command: string;
  output_bytes: number;
  output?: string;
}

/**
 * Prints every byte of a job's output, command after command. With
 * `--json`, prints the job log once, each command's `output` read whole
 * from disk (after the job has finished, with `--follow`).
 */
export async function logsCommand(
  id: string,
  flags: ClientFlags & { follow?: boolean }
): Promise<void> {
  const client = await connect(flags);
  try {
    const offsets: number[] = [];
    const texts: string[] = [];
    const sink = (index: number, text: string) => {
      if (flags.json) texts[index] = (texts[index] ?? '') + text;
      else process.stdout.write(text);
    };
    for (;;) {
      const { job } = await client.dispatcher({ action: 'get', job_id: id });
      const done = job.state === 'finished';
      const commands = (job.commands as CommandEntry[]) ?? [];
      for (let index = 0; index < commands.length; index++) {
        offsets[index] = await printFrom(client, id, index, offsets[index],
          (text) => sink(index, text));
      }
      // A finished job's files are complete once every recorded byte
      // has been read; they are flushed just after the job ends.
      const complete = commands.every(
        (entry, index) => (offsets[index] ?? 0) >= entry.output_bytes
      );
      if (complete && (done || !flags.follow)) {
        if (flags.json) {
          commands.forEach((entry, index) => {
            entry.output = texts[index] ?? '';
          });
          console.log(JSON.stringify(job, null, 2));
        }
        if (done) report(job, flags.json === true);
        return;
      }
      await delay(FOLLOW_INTERVAL_MS);
    }
  } finally {
    await client.close();
  }
}

/**
 * Says on stderr how a job that did not succeed ended, and exits 1 for
 * it, so that `logs` in a script tells failure from success.
 */
function report(job: {
  process_id: string;
  outcome: string;
  commands: Array<{ command: string; exit_code: number | null;
    signal: string | null; error: string | null }>;
}, quiet: boolean): void {
  if (job.outcome === 'success') return;
  process.exitCode = 1;
  if (quiet) return;
  const last = job.commands.at(-1);
  const why = last
    ? last.error ?? (last.signal ? `killed by ${last.signal}` :
      `exit status ${last.exit_code}`)
    : 'it never started';
  process.stderr.write(
    `dispatcher: job ${job.process_id}: ${job.outcome}` +
      (last ? ` in '${last.command}'` : '') + ` (${why})\n`
  );
}

async function printFrom(
  client: Client,
  id: string,
  command: number,
  start: number | undefined,
  write: (text: string) => void
): Promise<number> {
  let offset = start ?? 0;
  for (;;) {
    const { output } = await client.dispatcher({
      action: 'get', job_id: id, command, offset
    });
    if (output.bytes > 0) write(output.text);
    offset = output.next_offset;
    if (output.eof || output.bytes === 0) return offset;
  }
}

/** The columns of `history`, in order. */
export const historyColumns = ['FINISHED', 'ID', 'QUEUE', 'OUTCOME',
  'SECONDS', 'COMMAND'];

/** Lists finished jobs, the last to finish first. */
export async function historyCommand(
  flags: ClientFlags & { limit?: string }
): Promise<void> {
  const client = await connect(flags);
  try {
    const reply = await client.dispatcher({
      action: 'list',
      finished: true,
      finished_limit: Number(flags.limit ?? 20)
    });
    if (flags.json) {
      console.log(JSON.stringify(reply.finished, null, 2));
      return;
    }
    const c = colours();
    const rows: string[][] = [];
    for (const job of reply.finished) {
      const started = Date.parse(job.time_started);
      const finished = Date.parse(job.time_finished);
      rows.push([
        String(job.time_finished).slice(0, 19).replace('T', ' '),
        visible(job.process_id),
        job.queue,
        paint(job.outcome, c),
        Number.isNaN(started) ? '-' : ((finished - started) / 1000).toFixed(1),
        visible(job.cmd_list.join(' → '))
      ]);
    }
    if (rows.length === 0) console.log('no finished jobs');
    else console.log(table(historyColumns, rows, c));
  } finally {
    await client.close();
  }
}
