/**
 * The client commands of the command line: run, list, kill and watch.
 * Each connects over WebSocket, logs in, and prints what it got.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { Client, type Message } from '../client/client.js';
import { quoteCommand } from './quote.js';

export interface ClientFlags {
  url?: string;
  user?: string;
  password?: string;
  dataDir?: string;
  json?: boolean;
}

export const defaultUrl = 'ws://127.0.0.1:12150';

/**
 * Server address and credentials, from flags, then the environment
 * (DISPATCHER_URL, DISPATCHER_USER, DISPATCHER_PASSWORD), then the admin
 * password file of the data directory.
 */
export function resolveConnection(flags: ClientFlags) {
  const env = process.env;
  const url = flags.url ?? env.DISPATCHER_URL ?? defaultUrl;
  const user = flags.user ?? env.DISPATCHER_USER ?? 'admin';
  let password = flags.password ?? env.DISPATCHER_PASSWORD;
  if (password === undefined) {
    const dataDir = flags.dataDir ?? env.DISPATCHER_DATA_DIR ?? 'data';
    const file = join(dataDir, 'admin-password');
    try {
      if (user === 'admin') password = readFileSync(file, 'utf8').trim();
    } catch {
      // Reported below with what to do instead.
    }
    if (password === undefined) {
      throw new Error(
        `no password for user '${user}': pass --password, set ` +
          `DISPATCHER_PASSWORD, or run where ${file} is readable`
      );
    }
  }
  return { url, credentials: { user, password } };
}

export async function connect(flags: ClientFlags): Promise<Client> {
  const { url, credentials } = resolveConnection(flags);
  return Client.connect(url, credentials);
}

export async function runCommand(
  id: string,
  words: string[],
  flags: ClientFlags & { queue?: string; command?: string[] }
): Promise<void> {
  const chain = [...(flags.command ?? [])];
  if (words.length > 0) chain.push(quoteCommand(words));
  if (chain.length === 0) {
    throw new Error('give a command after --, or one or more -c COMMAND');
  }
  const client = await connect(flags);
  try {
    const args: Record<string, unknown> = { action: 'run', [id]: chain };
    if (flags.queue) args.queue = flags.queue;
    const reply = await client.dispatcher(args);
    if (flags.json) print(reply);
    else console.log(`queued ${reply.started.join(', ')} in ${reply.queue}`);
  } finally {
    await client.close();
  }
}

export async function listCommand(
  flags: ClientFlags & { queue?: string }
): Promise<void> {
  const client = await connect(flags);
  try {
    const args: Record<string, unknown> = { action: 'list' };
    if (flags.queue) args.queue = flags.queue;
    const reply = await client.dispatcher(args);
    if (flags.json) return print(reply);
    const rows = [['QUEUE', 'ID', 'STATE', 'POS', 'PID', 'STARTED', 'COMMAND']];
    for (const [queue, jobs] of Object.entries<any>(reply.jobs)) {
      for (const [id, job] of Object.entries<any>(jobs)) {
        rows.push([
          queue, id, job.state, job.queue_position ?? '-',
          job.pid === null ? '-' : String(job.pid),
          job.time_started ? job.time_started.slice(11, 19) : '-',
          job.current_cmd || job.commands[0]
        ]);
      }
    }
    if (rows.length === 1) console.log('no pending or running jobs');
    else console.log(columns(rows));
    const paused = Object.entries<any>(reply.queues)
      .filter(([, queue]) => queue.paused).map(([name]) => name);
    if (paused.length > 0) {
      console.log(`paused (start nothing until resumed): ${paused.join(', ')}`);
    }
  } finally {
    await client.close();
  }
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

/**
 * Prints events until interrupted. When the connection drops (the
 * server restarted, or dropped this client for falling behind a burst of
 * output), it connects again and resumes after the last event it saw.
 */
export async function watchCommand(flags: ClientFlags): Promise<void> {
  let last: number | undefined;
  for (let attempt = 0; ; attempt++) {
    let client: Client;
    try {
      client = await connect(flags);
    } catch (error) {
      if (last === undefined || attempt > 20) throw error;
      await delay(500);
      continue;
    }
    attempt = 0;
    client.on('event', (message) => {
      if (typeof message.args?.seq === 'number') last = message.args.seq;
      console.log(flags.json ? JSON.stringify(message) : describe(message));
    });
    const reply = await client.request('events', 'subscribe',
      last === undefined
        ? ['dispatcher']
        : { events: ['dispatcher'], since: last });
    if (!flags.json) {
      console.error(last === undefined
        ? `watching ${client.url} (Ctrl-C to stop)`
        : `reconnected${reply.missed ? '; some events were missed' : ''}`);
    }
    await new Promise<void>((resolve) => client.once('close', resolve));
    if (!flags.json) console.error('connection lost; reconnecting');
  }
}

/** One readable line (or a few, for output) per event. */
export function describe(message: Message): string {
  const args = message.args;
  const time = new Date().toISOString().slice(11, 23);
  const head = `${time} ${String(args.event).padEnd(8)} ${args.process_id}`;
  switch (args.event) {
    case 'queued':
      return `${head} [${args.queue}] ${args.cmd_list.join(' → ')}`;
    case 'started':
      return `${head} [${args.queue}] ${args.current_cmd}`;
    case 'command':
      return `${head} pid ${args.pid}: ${args.current_cmd}`;
    case 'signal':
      return `${head} ${args.signal} (by ${args.killed_by})`;
    case 'output':
      return visible(String(args.output)).replace(/\n$/, '').split('\n')
        .map((line) => `${head} | ${line}`).join('\n');
    case 'finished': {
      const codes = args.commands
        .map((c: any) => c.error ?? c.signal ?? c.exit_code).join(',');
      return `${head} ${args.outcome} (${codes || 'never started'})`;
    }
    default:
      return `${head} ${JSON.stringify(args)}`;
  }
}

/**
 * Job output with control characters shown as escapes: a job's output
 * must not move the cursor or recolour the terminal watching it.
 */
function visible(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function columns(rows: string[][]): string {
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((row) => row[i].length))
  );
  return rows
    .map((row) =>
      row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i]))
        .join('  ')
    )
    .join('\n');
}

function print(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
