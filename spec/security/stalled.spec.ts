/**
 * A subscriber that stops reading is dropped, so a job printing 200 MB
 * does not pile 200 MB (more, as JSON) up in the server for it; one that
 * reads gets every event, each output event with its text or a note of
 * the bytes withheld from it.
 */
import { expect } from 'chai';
import WebSocket from 'ws';

import { captureLog, startServer, type TestServer } from '../helpers/server.js';
import { ask, closeOf, tryUpgrade } from './helpers.js';

/** 50 bursts of 4 MB of `y`, 50 ms apart: 200 MB in a few seconds. */
const PRINT_200_MB = 'sh -c \'i=0; while [ $i -lt 50 ]; do ' +
  'head -c 4000000 /dev/zero | tr "\\0" y; sleep 0.05; i=$((i+1)); done\'';

/** What a subscriber was sent, message by message. */
interface Received {
  /**
   * `args` of every event, in order; in output events, `output` is
   * replaced by its length in bytes, so that the spec holds no text.
   */
  events: any[];
  /** Bytes of all messages. */
  bytes: number;
}

async function subscriber(
  server: TestServer
): Promise<{ socket: WebSocket; received: Received }> {
  const socket = await tryUpgrade(server.wsUrl, {
    maxPayload: 1024 * 1024 * 1024
  }) as WebSocket;
  await ask(socket, 'auth', {
    username: 'admin', password: server.adminPassword
  });
  const received: Received = { events: [], bytes: 0 };
  socket.on('message', (data: Buffer) => {
    received.bytes += data.length;
    const { name, args } = JSON.parse(String(data));
    if (name !== 'dispatcher') return;
    if (args.event === 'output') args.output = Buffer.byteLength(args.output);
    received.events.push(args);
  });
  await ask(socket, 'subscribe', ['dispatcher'], 'events');
  return { socket, received };
}

/** Numbers of events missing between consecutive `seq`s. */
function seqGaps(events: any[]): number {
  let gaps = 0;
  for (let i = 1; i < events.length; i++) {
    gaps += events[i].seq - events[i - 1].seq - 1;
  }
  return gaps;
}

describe('a subscriber that stops reading', function () {
  this.timeout(60000);

  it('is dropped while memory stays bounded and others get every event',
    async function () {
      const { log, lines } = captureLog();
      // The replay backlog at its default: bounded in bytes, it must not
      // hide what this spec measures. A short heartbeat makes a reader
      // that stopped count as stopped after one second.
      const server = await startServer({ heartbeatMs: 2000 }, { log });
      try {
        const healthy = await subscriber(server);
        const finished = new Promise<void>((resolve) => {
          healthy.socket.on('message', () => {
            const last = healthy.received.events.at(-1);
            if (last?.event === 'finished' && last.process_id === 'big') {
              resolve();
            }
          });
        });
        const stalled = await subscriber(server);
        stalled.socket.pause();

        const base = process.memoryUsage().rss;
        let peak = 0;
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().rss - base);
        }, 10);
        const client = await server.connect();
        await client.dispatcher({ action: 'run', big: PRINT_200_MB });
        await finished;
        clearInterval(sampler);

        const events = healthy.received.events
          .filter((args) => args.process_id === 'big');
        const end = events.at(-1);
        expect(end.outcome).to.equal('success');
        expect(end.commands[0].output_bytes).to.equal(200e6);
        // Every event reached the reader, in order.
        expect(seqGaps(healthy.received.events)).to.equal(0);
        expect(events.map((args) => args.event)
          .filter((name) => name !== 'output' && name !== 'usage'))
          .to.deep.equal(['queued', 'started', 'finished']);
        // Each output event holds its text, or says how much was held
        // back; together they account for every byte, in order.
        let offset = 0;
        for (const args of events.filter((e) => e.event === 'output')) {
          expect(args.offset).to.equal(offset);
          offset += args.skipped_bytes ?? args.output;
        }
        expect(offset).to.equal(200e6);

        const drops = lines.filter((line) =>
          line.msg === 'dropped a subscriber that stopped reading');
        expect(drops).to.have.length(1);
        expect(drops[0].unsentBytes).to.be.below(64 * 1024 * 1024);
        // Kept for the stalled reader, the events would take over 400 MB.
        expect(peak, `peak RSS growth ${peak}`).to.be.below(200e6);

        const closed = closeOf(stalled.socket);
        stalled.socket.resume();
        expect((await closed).code).to.equal(1006);
        // What it had been sent before it was cut off came in order.
        expect(seqGaps(stalled.received.events)).to.equal(0);
        expect(healthy.socket.readyState).to.equal(WebSocket.OPEN);
        healthy.socket.close();
      } finally {
        await server.stop();
      }
    });
});
