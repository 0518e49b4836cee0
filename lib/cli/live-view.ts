/**
 * The live view of `watch` on a terminal: the screen redrawn in place
 * with running jobs (elapsed time, CPU, memory, last lines of output),
 * pending jobs with their position, and the last jobs to finish.
 */
import { setTimeout as delay } from 'node:timers/promises';

import { ClientError, type Client } from '../client/client.js';
import { connect, type ClientFlags } from './connection.js';
import { colours } from './format.js';
import { Board } from './live-board.js';

/** How often `list` is asked again, for CPU, memory and positions, ms. */
const LIST_INTERVAL_MS = 2000;

/** Longest wait between redraws (elapsed times move), ms. */
const REDRAW_INTERVAL_MS = 1000;

/** Shortest wait between redraws, however busy the server, ms. */
const REDRAW_MIN_MS = 100;

/** Alternate screen on, cursor hidden; and the reverse. */
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';

/**
 * Runs the live view until Ctrl-C (or SIGTERM), reconnecting when the
 * connection drops. The first connection's errors are thrown, so that
 * a wrong password is reported like any other command's.
 */
export async function liveView(flags: ClientFlags): Promise<void> {
  let client: Client | undefined = await connect(flags);
  const board = new Board();
  const c = colours();
  const url = client.url;
  let status = 'connected';
  let stopped = false;
  let drawn = 0;

  const draw = () => {
    drawn = Date.now();
    const width = process.stdout.columns || 80;
    const height = Math.max(5, (process.stdout.rows || 24) - 2);
    const title = `dispatcher watch · ${url} · ` +
      `${new Date().toTimeString().slice(0, 8)} · ${status} · Ctrl-C stops`;
    const body = board.draw(c, width, height);
    process.stdout.write('\x1b[H' + [c.inverse(title.padEnd(width)
      .slice(0, width)), '', ...body].join('\x1b[K\n') + '\x1b[K\x1b[J');
  };
  let pending: NodeJS.Timeout | undefined;
  const soon = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      if (!stopped) draw();
    }, Math.max(0, REDRAW_MIN_MS - (Date.now() - drawn)));
  };

  let stop = () => {};
  const finished = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = () => {
    stopped = true;
    stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('resize', draw);
  process.stdout.write(ENTER);
  const ticker = setInterval(() => draw(), REDRAW_INTERVAL_MS);
  const poller = setInterval(() => {
    client?.dispatcher({ action: 'list' })
      .then((reply) => board.refresh(reply.jobs), () => {})
      .then(soon);
  }, LIST_INTERVAL_MS);

  try {
    while (!stopped) {
      if (!client) {
        status = 'reconnecting…';
        draw();
        client = await connect(flags).catch(() => undefined);
        if (!client) {
          await Promise.race([delay(1000), finished]);
          continue;
        }
        status = 'connected';
      }
      const closed = new Promise<void>((resolve) =>
        client!.once('close', resolve));
      client.on('event', (message) => {
        board.apply(message.args);
        soon();
      });
      try {
        await client.subscribe();
        board.refresh((await client.dispatcher({ action: 'list' })).jobs);
      } catch (error) {
        // A connection lost on the way is retried; a refusal is not.
        if (!(error instanceof ClientError) || error.code !== 0) throw error;
      }
      draw();
      await Promise.race([closed, finished]);
      if (!stopped) client = undefined;
    }
  } finally {
    clearInterval(ticker);
    clearInterval(poller);
    clearTimeout(pending);
    process.stdout.off('resize', draw);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stdout.write(LEAVE);
    await client?.close();
  }
}
