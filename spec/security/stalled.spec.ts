/**
 * A subscriber that stops reading is dropped once its unsent events
 * pass the limit, so a job printing 200 MB does not pile 200 MB (more,
 * as JSON) up in the server for it; other subscribers get every event.
 */
import { expect } from 'chai';
import WebSocket from 'ws';

import { captureLog, startServer, type TestServer } from '../helpers/server.js';
import { ask, closeOf, tryUpgrade } from './helpers.js';

/** 50 bursts of 4 MB of `y`, 50 ms apart: 200 MB in a few seconds. */
const PRINT_200_MB = 'sh -c \'i=0; while [ $i -lt 50 ]; do ' +
  'head -c 4000000 /dev/zero | tr "\\0" y; sleep 0.05; i=$((i+1)); done\'';

async function subscriber(server: TestServer): Promise<WebSocket> {
  const socket = await tryUpgrade(server.wsUrl, {
    maxPayload: 1024 * 1024 * 1024
  }) as WebSocket;
  await ask(socket, 'auth', {
    username: 'admin', password: server.adminPassword
  });
  await ask(socket, 'subscribe', ['dispatcher'], 'events');
  return socket;
}

describe('a subscriber that stops reading', function () {
  this.timeout(60000);

  it('is dropped while memory stays bounded and others get every event',
    async function () {
      const { log, lines } = captureLog();
      // The replay backlog at its default: bounded in bytes, it must not
      // hide what this spec measures.
      const server = await startServer({}, { log });
      try {
        const healthy = await subscriber(server);
        let received = 0;
        const finished = new Promise<any>((resolve) => {
          healthy.on('message', (data: Buffer) => {
            received += data.length;
            const head = data.subarray(0, 120).toString();
            if (head.includes('"finished"')) resolve(JSON.parse(String(data)));
          });
        });
        const stalled = await subscriber(server);
        stalled.pause();

        const base = process.memoryUsage().rss;
        let peak = 0;
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().rss - base);
        }, 10);
        const client = await server.connect();
        await client.dispatcher({ action: 'run', big: PRINT_200_MB });
        const end = await finished;
        clearInterval(sampler);

        expect(end.args.outcome).to.equal('success');
        expect(end.args.commands[0].output_bytes).to.equal(200e6);
        // Output events carry the text twice; every byte reached it.
        expect(received).to.be.above(400e6);
        const drops = lines.filter((line) =>
          line.msg === 'dropped a subscriber that stopped reading');
        expect(drops).to.have.length(1);
        expect(drops[0].unsentBytes).to.be.below(64 * 1024 * 1024);
        // Kept for the stalled reader, the events would take over 400 MB.
        expect(peak, `peak RSS growth ${peak}`).to.be.below(200e6);

        const closed = closeOf(stalled);
        stalled.resume();
        expect((await closed).code).to.equal(1006);
        expect(healthy.readyState).to.equal(WebSocket.OPEN);
        healthy.close();
      } finally {
        await server.stop();
      }
    });
});
