/**
 * `dispatcher watch`: a live view on a terminal (see live-view.ts), and
 * one line per event otherwise, so that it can be piped and logged.
 */
import { setTimeout as delay } from 'node:timers/promises';

import type { Client, Message } from '../client/client.js';
import { connect, type ClientFlags } from './connection.js';
import { skippedNote, usageCells, visible } from './format.js';
import { liveView } from './live-view.js';

/** How many times a lost connection is retried, 500 ms apart. */
const RECONNECT_ATTEMPTS = 20;

/**
 * Watches until interrupted: the live view when standard output is a
 * terminal (and neither `--json` nor `--lines` is given), else one line
 * per event.
 */
export async function watchCommand(
  flags: ClientFlags & { lines?: boolean }
): Promise<void> {
  if (process.stdout.isTTY && !flags.json && !flags.lines) {
    return liveView(flags);
  }
  return watchLines(flags);
}

/**
 * Prints events until interrupted. When the connection drops (the
 * server restarted, or dropped this client for falling behind a burst of
 * output), it connects again and resumes after the last event it saw.
 */
async function watchLines(flags: ClientFlags): Promise<void> {
  let last: number | undefined;
  for (let attempt = 0; ; attempt++) {
    let client: Client;
    try {
      client = await connect(flags);
    } catch (error) {
      if (last === undefined || attempt > RECONNECT_ATTEMPTS) throw error;
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
        : reply.missed
          ? "reconnected; events were missed meanwhile (the server " +
            "restarted or moved on): 'dispatcher history' has what ended"
          : 'reconnected');
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
    case 'usage': {
      if (args.usage_error) return `${head} ? (${args.usage_error})`;
      const [cpu, memory] = usageCells(args);
      return `${head} cpu ${cpu} memory ${memory}`;
    }
    case 'signal':
      return `${head} ${args.signal} (by ${args.killed_by})`;
    case 'output':
      if (typeof args.skipped_bytes === 'number') {
        return `${head} | ${skippedNote(args)}`;
      }
      return visible(String(args.output), true).replace(/\n$/, '')
        .split('\n').map((line) => `${head} | ${line}`).join('\n');
    case 'finished': {
      const codes = args.commands
        .map((c: any) => c.error ?? c.signal ?? c.exit_code).join(',');
      return `${head} ${args.outcome} (${codes || 'never started'})`;
    }
    default:
      return `${head} ${JSON.stringify(args)}`;
  }
}
