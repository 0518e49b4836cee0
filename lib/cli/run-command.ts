/**
 * `dispatcher run`: queues a job, its chain from the command line or a
 * JSON or YAML file, and with `--wait` streams its output and exits with
 * the job's exit status.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

import { parse } from 'yaml';

import type { Client, Message } from '../client/client.js';
import { OutputFollower } from '../client/output.js';
import { print } from './client-commands.js';
import { connect, type ClientFlags } from './connection.js';
import { quoteCommand } from './quote.js';

/** The flags of `run`. */
export interface RunFlags extends ClientFlags {
  queue?: string;
  command?: string[];
  file?: string;
  wait?: boolean;
}

/** A chain read from a file, with the queue it names, if any. */
export interface ChainFile {
  queue?: string;
  commands: string[];
}

/**
 * Reads a chain file: YAML (JSON is YAML too) holding either a list of
 * command strings or `{queue, commands}`. Throws naming what is wrong.
 */
export function readChainFile(path: string): ChainFile {
  let value: unknown;
  try {
    value = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read chain file ${path}: ` +
      (error as Error).message.split('\n')[0]);
  }
  const shape = 'a list of command strings, or {queue, commands}';
  let queue: unknown;
  let commands = value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    ({ queue, commands } = value as Record<string, unknown>);
    if (queue !== undefined && typeof queue !== 'string') {
      throw new Error(`${path}: 'queue' must be a string`);
    }
  }
  if (typeof commands === 'string') commands = [commands];
  if (!Array.isArray(commands) || commands.length === 0 ||
      !commands.every((command) => typeof command === 'string')) {
    throw new Error(`${path} must hold ${shape}`);
  }
  return { queue: queue as string | undefined, commands };
}

/** Queues one job; with `--wait`, resolves once it has finished. */
export async function runCommand(
  id: string,
  words: string[],
  flags: RunFlags
): Promise<void> {
  const { queue, chain } = chainOf(words, flags);
  const client = await connect(flags);
  try {
    const args: Record<string, unknown> = { action: 'run', [id]: chain };
    if (queue) args.queue = queue;
    if (!flags.wait) {
      const reply = await client.dispatcher(args);
      if (flags.json) print(reply);
      else console.log(`queued ${reply.started.join(', ')} in ${reply.queue}`);
      return;
    }
    const job = await runAndWait(client, id, args, flags.json === true);
    if (flags.json) print(job);
    else explain(job);
    process.exitCode = exitStatus(job);
  } finally {
    await client.close();
  }
}

function chainOf(words: string[], flags: RunFlags) {
  const chain = [...(flags.command ?? [])];
  if (words.length > 0) chain.push(quoteCommand(words));
  if (flags.file === undefined) {
    if (chain.length === 0) {
      throw new Error('give a command after --, one or more -c COMMAND, ' +
        'or --file CHAIN.yaml');
    }
    return { queue: flags.queue, chain };
  }
  if (chain.length > 0) {
    throw new Error('give the chain either in --file or on the command ' +
      'line, not both');
  }
  const file = readChainFile(flags.file);
  return { queue: flags.queue ?? file.queue, chain: file.commands };
}

/**
 * Subscribes, then runs, so that no event of the job can come before
 * the subscription; the server sends the `run` reply before the job's
 * first event, so events of this id seen before the reply belong to an
 * earlier job of the same id. Output the server withheld (this client
 * fell behind) is paged from the job's files, so every byte is printed,
 * in order. Resolves with the `finished` event, once all is printed.
 */
async function runAndWait(
  client: Client,
  id: string,
  args: Record<string, unknown>,
  quiet: boolean
): Promise<Message['args']> {
  let accepted = false;
  let finish: (job: Message['args']) => void = () => {};
  let lose: (error: Error) => void = () => {};
  const finished = new Promise<Message['args']>((resolve, reject) => {
    finish = resolve;
    lose = reject;
  });
  const output = new OutputFollower(client, id, {
    write: (text) => process.stdout.write(text),
    missed: (bytes) => process.stderr.write(`dispatcher: ${bytes} bytes ` +
      `of output skipped; they are past what job ${id} keeps on disk\n`)
  });
  client.on('event', ({ args: event }) => {
    if (!accepted || event.process_id !== id) return;
    if (event.event === 'output' && !quiet) {
      output.add(event);
    } else if (event.event === 'finished') {
      output.end().then(() => finish(event), lose);
    }
  });
  client.once('close', () => lose(new Error(`lost the connection while ` +
    `waiting for job ${id}; it goes on: see 'dispatcher logs ${id}'`)));
  await client.subscribe();
  // Several messages may be handled in one turn, before the awaited reply
  // resumes this function, so the reply is noted as it arrives.
  client.once('reply', () => (accepted = true));
  const reply = await client.dispatcher(args);
  if (!quiet) {
    process.stderr.write(`queued ${reply.started.join(', ')} in ` +
      `${reply.queue}; waiting (Ctrl-C stops waiting, not the job)\n`);
  }
  return finished;
}

/**
 * The exit status `run --wait` ends with: 0 for success, the last
 * command's exit code, 128 + the signal number for a command ended by a
 * signal (143 for SIGTERM, 137 for SIGKILL), 143 for a job killed before
 * it started, and 1 when a command could not start or the server was
 * interrupted.
 */
export function exitStatus(job: Message['args']): number {
  if (job.outcome === 'success') return 0;
  const last = (job.commands ?? []).at(-1);
  if (last?.signal) {
    const number = (constants.signals as Record<string, number>)[last.signal];
    return number === undefined ? 1 : 128 + number;
  }
  if (typeof last?.exit_code === 'number' && last.exit_code !== 0) {
    return last.exit_code;
  }
  if (job.outcome === 'killed') return 128 + constants.signals.SIGTERM;
  return 1;
}

/** Says on stderr how a job that did not succeed ended. */
function explain(job: Message['args']): void {
  if (job.outcome === 'success') return;
  const last = (job.commands ?? []).at(-1);
  const why = last
    ? last.error ?? (last.signal ? `ended by ${last.signal}` :
      `exit status ${last.exit_code}`)
    : 'it never started';
  process.stderr.write(`dispatcher: job ${job.process_id}: ${job.outcome}` +
    (last ? ` in '${last.command}'` : '') + ` (${why})\n`);
}
