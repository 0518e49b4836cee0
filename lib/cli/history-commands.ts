/**
 * Client commands about what ran: `logs` prints a job's output
 * (following it while it runs) and `history` lists finished jobs.
 */
import { setTimeout as delay } from 'node:timers/promises';

import type { Client } from '../client/client.js';
import { connect, type ClientFlags } from './client-commands.js';

/** How often `logs --follow` looks for new output, ms. */
const FOLLOW_INTERVAL_MS = 250;

interface CommandEntry {
  command: string;
  output_bytes: number;
}

/** Prints every byte of a job's output, command after command. */
export async function logsCommand(
  id: string,
  flags: ClientFlags & { follow?: boolean }
): Promise<void> {
  const client = await connect(flags);
  try {
    const offsets: number[] = [];
    for (;;) {
      const { job } = await client.dispatcher({ action: 'get', job_id: id });
      const done = job.state === 'finished';
      const commands = (job.commands as CommandEntry[]) ?? [];
      for (let index = 0; index < commands.length; index++) {
        offsets[index] = await printFrom(client, id, index, offsets[index]);
      }
      // A finished job's files are complete once every recorded byte
      // has been read; they are flushed just after the job ends.
      const complete = commands.every(
        (entry, index) => (offsets[index] ?? 0) >= entry.output_bytes
      );
      if ((done && complete) || (!flags.follow && complete)) {
        if (done) report(job);
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
}): void {
  if (job.outcome === 'success') return;
  const last = job.commands.at(-1);
  const why = last
    ? last.error ?? (last.signal ? `killed by ${last.signal}` :
      `exit status ${last.exit_code}`)
    : 'it never started';
  process.stderr.write(
    `dispatcher: job ${job.process_id}: ${job.outcome}` +
      (last ? ` in '${last.command}'` : '') + ` (${why})\n`
  );
  process.exitCode = 1;
}

async function printFrom(
  client: Client,
  id: string,
  command: number,
  offset = 0
): Promise<number> {
  for (;;) {
    const { output } = await client.dispatcher({
      action: 'get', job_id: id, command, offset
    });
    if (output.bytes > 0) process.stdout.write(output.text);
    offset = output.next_offset;
    if (output.eof || output.bytes === 0) return offset;
  }
}

/** Lists finished jobs, newest first. */
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
    const rows = [['FINISHED', 'ID', 'QUEUE', 'OUTCOME', 'SECONDS', 'COMMAND']];
    for (const job of reply.finished) {
      const started = Date.parse(job.time_started);
      const finished = Date.parse(job.time_finished);
      rows.push([
        String(job.time_finished).slice(0, 19).replace('T', ' '),
        job.process_id,
        job.queue,
        job.outcome,
        Number.isNaN(started) ? '-' : ((finished - started) / 1000).toFixed(1),
        job.cmd_list.join(' → ')
      ]);
    }
    if (rows.length === 1) {
      console.log('no finished jobs');
      return;
    }
    const widths = rows[0].map((_, i) =>
      Math.max(...rows.map((row) => row[i].length)));
    for (const row of rows) {
      console.log(row.map((cell, i) =>
        i === row.length - 1 ? cell : cell.padEnd(widths[i])).join('  '));
    }
  } finally {
    await client.close();
  }
}
