/**
 * Events over real sockets: the same bytes to every subscriber, and
 * output held back from a subscriber that reads too slowly instead of
 * dropping it.
 */
import { expect } from 'chai';
import WebSocket from 'ws';

import {
  outputOf,
  startServer,
  type TestServer
} from '../helpers/server.js';
import { ask } from '../security/helpers.js';

/** A subscribed raw socket and every event message it was sent. */
interface Subscription {
  socket: WebSocket;
  /** Event messages as they came, bytes. */
  messages: Buffer[];
}

async function subscribe(
  server: TestServer,
  token: string
): Promise<Subscription> {
  const socket = new WebSocket(server.wsUrl, { maxPayload: 256 << 20 });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  await ask(socket, 'auth_token', { token });
  const messages: Buffer[] = [];
  socket.on('message', (data: Buffer) => {
    if (data.subarray(0, 60).includes('"name":"dispatcher"')) {
      messages.push(data);
    }
  });
  await ask(socket, 'subscribe', ['dispatcher'], 'events');
  return { socket, messages };
}

function argsOf(message: Buffer): any {
  return JSON.parse(String(message)).args;
}

/** Events missing between consecutive `seq`s. */
function seqGaps(messages: Buffer[]): number {
  const seqs = messages.map((message) => argsOf(message).seq);
  let gaps = 0;
  for (let i = 1; i < seqs.length; i++) gaps += seqs[i] - seqs[i - 1] - 1;
  return gaps;
}

/** Waits, polling, until `done` holds; fails after `timeoutMs`. */
async function until(done: () => boolean, what: string, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('event fan-out', function () {
  this.timeout(60000);
  let server: TestServer;
  let token: string;

  beforeEach(async function () {
    server = await startServer({ maxConnectionsPerAddress: 128 });
    const client = await server.connect();
    [token] = await client.request('rpc', 'auth', {
      username: 'admin', password: server.adminPassword
    });
  });

  afterEach(async function () {
    await server.stop();
  });

  it('sends 100 subscribers the same bytes, every seq once and in order',
    async function () {
      const subscribers: Subscription[] = [];
      for (let i = 0; i < 100; i++) {
        subscribers.push(await subscribe(server, token));
      }
      const jobs: Record<string, string> = { greet: 'echo hello' };
      for (let i = 0; i < 40; i++) jobs[`t${i}`] = 'true';
      const client = await server.connect();
      await client.dispatcher({ action: 'run', ...jobs });

      const ends = (subscription: Subscription) => subscription.messages
        .filter((message) => argsOf(message).event === 'finished').length;
      await until(() => subscribers.every((s) => ends(s) === 41),
        'every subscriber to see every job finish');

      const nonOutput = (subscription: Subscription) => subscription.messages
        .filter((message) => argsOf(message).event !== 'output')
        .map((message) => message.toString('hex'));
      const first = nonOutput(subscribers[0]);
      // queued, started and finished of each job, and nothing lost.
      expect(first.length).to.be.at.least(41 * 3);
      for (const subscription of subscribers) {
        expect(nonOutput(subscription)).to.deep.equal(first);
        expect(seqGaps(subscription.messages)).to.equal(0);
        subscription.socket.close();
      }
    });
});

describe('output to a subscriber that falls behind', function () {
  this.timeout(60000);

  it('goes without its text, saying what was left out, and the reader ' +
    'stays', async function () {
    const server = await startServer();
    try {
      const client = await server.connect();
      const [token] = await client.request('rpc', 'auth', {
        username: 'admin', password: server.adminPassword
      });
      const slow = await subscribe(server, token);
      // Reads, but takes a break after every message.
      slow.socket.on('message', () => {
        slow.socket.pause();
        setTimeout(() => slow.socket.resume(), 5);
      });
      const printed = 50_000_000;
      await client.dispatcher({
        action: 'run',
        chatty: ['echo start', `head -c ${printed} /dev/zero`]
      });
      const finished = () => slow.messages
        .some((message) => argsOf(message).event === 'finished');
      await until(finished, 'the slow reader to see the job finish');
      expect(slow.socket.readyState).to.equal(WebSocket.OPEN);
      expect(seqGaps(slow.messages)).to.equal(0);

      const events = slow.messages.map(argsOf)
        .filter((args) => args.process_id === 'chatty');
      expect(events.map((args) => args.event)
        .filter((name) => name !== 'output' && name !== 'usage'))
        .to.deep.equal(['queued', 'started', 'command', 'finished']);
      const output = events.filter((args) => args.event === 'output' &&
        args.command_index === 1);
      const lean = output.filter((args) => args.skipped_bytes !== undefined);
      expect(lean, 'output events without text').to.not.be.empty;
      for (const args of lean) {
        expect(args.output).to.equal('');
        expect(args.skipped_chars).to.equal(args.skipped_bytes);
      }
      // Text and what was left out account for every byte, in order.
      let offset = 0;
      for (const args of output) {
        expect(args.offset).to.equal(offset);
        offset += args.skipped_bytes ?? Buffer.byteLength(args.output);
      }
      expect(offset).to.equal(printed);
      // What was left out is in the job's files, where `get` pages it.
      const { texts, missed } = await outputOf(client, 'chatty', events);
      expect(missed).to.equal(0);
      expect(texts[0]).to.equal('start\n');
      expect(texts[1].length).to.equal(printed);
      expect(/^\0*$/.test(texts[1])).to.equal(true);
      slow.socket.close();
    } finally {
      await server.stop();
    }
  });
});
