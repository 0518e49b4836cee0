/**
 * Limits: each is answered with a clear error or close code, and none
 * takes the server, or another client, down.
 */
import { expect } from 'chai';
import WebSocket from 'ws';

import type { Client } from '../../lib/client/client.js';
import { waitFor } from '../process/wait.js';
import {
  basic,
  EventLog,
  rest,
  startServer,
  type TestServer
} from '../helpers/server.js';
import {
  ask,
  closeCode,
  closeOf,
  handRolledSocket,
  rawRequest,
  tryUpgrade,
  type Refusal
} from './helpers.js';

const SMALL = 64 * 1024;

/**
 * A WebSocket logged in as admin: with `token` when given, which takes no
 * password check, otherwise with the password.
 */
async function loggedIn(
  server: TestServer,
  token?: string
): Promise<WebSocket> {
  const socket = await tryUpgrade(server.wsUrl) as WebSocket;
  const reply = token === undefined
    ? await ask(socket, 'auth', {
      username: 'admin', password: server.adminPassword
    })
    : await ask(socket, 'auth_token', { token });
  expect(reply.name).to.equal('response');
  return socket;
}

describe('limits', function () {
  describe('messages and frames', function () {
    let server: TestServer;
    let watcher: Client;
    let events: EventLog;

    before(async function () {
      server = await startServer({
        maxMessageBytes: SMALL, maxBodyBytes: SMALL, wsCompression: true
      });
      watcher = await server.connect();
      events = new EventLog(watcher);
      await watcher.subscribe();
    });

    after(async function () {
      await server.stop();
    });

    /** Runs a job that prints for a while; resolves with its id. */
    async function ticker(id: string): Promise<string> {
      await watcher.dispatcher({
        action: 'run',
        [id]: 'sh -c "for i in 1 2 3 4 5 6; do echo $i; sleep 0.05; done"'
      });
      return id;
    }

    it('closes only an oversized message\'s socket, with 1009',
      async function () {
        const id = await ticker('tick-big');
        const socket = await loggedIn(server);
        const closed = closeOf(socket);
        socket.send('x'.repeat(SMALL + 1));
        expect((await closed).code).to.equal(1009);
        const log = await events.finished(id);
        expect(log.outcome).to.equal('success');
        expect(await watcher.dispatcher({ action: 'list' }))
          .to.have.property('jobs');
      });

    it('closes with 1009 a compressed message that inflates past the limit',
      async function () {
        const socket = await tryUpgrade(server.wsUrl, {
          perMessageDeflate: true
        }) as WebSocket;
        const closed = closeOf(socket);
        socket.send('a'.repeat(16 * SMALL));
        expect((await closed).code).to.equal(1009);
        // What went over the wire, compressed: far below the limit.
        const raw = socket as unknown as { _socket: { bytesWritten: number } };
        const sent = raw._socket.bytesWritten;
        expect(sent).to.be.below(SMALL);
      });

    it('closes only a malformed frame\'s socket, with 1002',
      async function () {
        const id = await ticker('tick-bad');
        const frames = [
          // A client frame without a mask.
          Buffer.from([0x81, 0x02, 0x68, 0x69]),
          // A reserved opcode.
          Buffer.from([0x83, 0x80, 1, 2, 3, 4]),
          // A length that claims far more than the limit.
          Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 1, 2, 3, 4])
        ];
        const codes = [];
        for (const frame of frames) {
          const raw = await handRolledSocket(server.server.wsPort);
          const ended = new Promise((resolve) => raw.socket.once('close',
            resolve));
          raw.socket.write(frame);
          await ended;
          codes.push(closeCode(raw.received()));
        }
        expect(codes).to.deep.equal([1002, 1002, 1009]);
        expect((await events.finished(id)).outcome).to.equal('success');
      });

    it('answers a binary frame with bad_json and keeps the socket',
      async function () {
        const socket = await loggedIn(server);
        socket.send(Buffer.from('{"namespace":"rpc"}'));
        const reply = await new Promise<any>((resolve) =>
          socket.once('message', (data) => resolve(JSON.parse(String(data)))));
        expect(reply.args.error).to.equal('bad_json');
        expect((await ask(socket, 'identify')).name).to.equal('response');
        socket.close();
      });

    it('answers 413 to an oversized REST body, announced or not',
      async function () {
        const auth = basic('admin', server.adminPassword);
        const body = JSON.stringify({ action: 'run', x: 'y'.repeat(SMALL) });
        const announced = await rawRequest(`${server.restUrl}/rpc/dispatcher`,
          { headers: { ...auth, 'Content-Length': String(body.length) },
            body });
        expect(announced.status).to.equal(413);
        const chunked = await rawRequest(`${server.restUrl}/rpc/dispatcher`,
          { headers: { ...auth, 'Transfer-Encoding': 'chunked' }, body });
        expect(chunked.status).to.equal(413);
        expect(chunked.body.args.error).to.equal('body_too_large');
      });
  });

  describe('connections', function () {
    it('refuses connections past the limit per address, then takes more',
      async function () {
        const server = await startServer({ maxConnectionsPerAddress: 3 });
        try {
          const open = await Promise.all([1, 2, 3].map(() =>
            tryUpgrade(server.wsUrl) as Promise<WebSocket>));
          const fourth = await tryUpgrade(server.wsUrl) as Refusal;
          expect(fourth.status).to.equal(429);
          expect(fourth.body.args).to.include({
            error: 'too_many_connections'
          });
          expect(fourth.body.args.detail).to.match(/limit per address/);
          const viaRest = await rawRequest(`${server.restUrl}/rpc/identify`);
          expect(viaRest.status).to.equal(429);
          expect(viaRest.headers.connection).to.equal('close');

          const closed = closeOf(open[0]);
          open[0].close();
          await closed;
          await waitFor(async () => (await rawRequest(
            `${server.restUrl}/rpc/identify`)).status === 200, 2000,
          'a free slot');
          expect(await ask(open[1], 'identify')).to.have.property('args');
          for (const socket of open) socket.close();
        } finally {
          await server.stop();
        }
      });

    it('refuses connections past the total limit', async function () {
      const server = await startServer({ maxConnections: 2 });
      try {
        const first = await tryUpgrade(server.wsUrl) as WebSocket;
        const second = await tryUpgrade(server.wsUrl) as WebSocket;
        const third = await tryUpgrade(server.wsUrl).catch(
          (error: Error) => error);
        // Past the total, the socket may be dropped before any reply.
        if (!(third instanceof Error)) {
          expect((third as Refusal).status).to.equal(429);
        }
        first.close();
        second.close();
      } finally {
        await server.stop();
      }
    });
  });

  describe('run requests', function () {
    let server: TestServer;
    let client: Client;

    before(async function () {
      server = await startServer({
        maxLiveJobs: 3,
        maxLiveJobsPerQueue: 2,
        maxJobIdLength: 8,
        maxChainLength: 3,
        maxCommandLength: 100,
        maxArguments: 4,
        graceMs: 200
      });
      client = await server.connect();
    });

    after(async function () {
      await server.stop();
    });

    async function refusal(args: Record<string, unknown>) {
      const error = await client.dispatcher({ action: 'run', ...args })
        .then(() => null, (e) => e);
      expect(error, JSON.stringify(args)).to.not.equal(null);
      return error;
    }

    it('refuses jobs past the live limits per queue and in all',
      async function () {
        await client.dispatcher({
          action: 'run', queue: 'pkg_queue', a: 'sleep 30', b: 'sleep 30'
        });
        const perQueue = await refusal({ queue: 'pkg_queue', c: 'true' });
        expect(perQueue.code).to.equal(429);
        expect(perQueue.detail).to.match(/pkg_queue holds 2 live jobs/);
        await client.dispatcher({ action: 'run', x: 'sleep 30' });
        const total = await refusal({ y: 'true' });
        expect(total.detail).to.match(/the server holds 3 live jobs/);
        const batch = await refusal({ queue: 'iocage_queue', p: 'true',
          q: 'true' });
        expect(batch.code).to.equal(429);
        const { jobs } = await client.dispatcher({ action: 'list' });
        expect(Object.keys(jobs).sort())
          .to.deep.equal(['no_queue', 'pkg_queue']);
        await client.dispatcher({ action: 'kill', job_id: ['a', 'b', 'x'] });
      });

    it('refuses job ids that are too long or have odd characters',
      async function () {
        const cases: Array<[string, RegExp]> = [
          ['123456789', /^args\.123456789 is a job id longer than 8/],
          ['a b', /^args\.a b is not a valid job id/],
          ['../etc', /is not a valid job id/],
          ['x\u001b[2J', /is not a valid job id/],
          ['a"b', /is not a valid job id/],
          ['__proto__', /is a reserved name/]
        ];
        for (const [id, detail] of cases) {
          const error = await refusal({ [id]: 'true' });
          expect(error.code, id).to.equal(400);
          expect(error.detail, id).to.match(detail);
        }
        const accepted = await client.dispatcher({
          action: 'run', 'é.1:a@b': 'true'
        });
        expect(accepted.started).to.deep.equal(['é.1:a@b']);
      });

    it('refuses long chains, long commands and too many words',
      async function () {
        const chain = await refusal({ j: ['true', 'true', 'true', 'true'] });
        expect(chain.detail).to.equal('args.j must have at most 3 commands');
        const long = await refusal({ j: `echo ${'x'.repeat(100)}` });
        expect(long.detail).to.equal(
          'args.j.0 must be at most 100 characters');
        const words = await refusal({ j: ['true', 'echo a b c d'] });
        expect(words.detail).to.equal(
          'args.j.1 must have at most 4 words (program and arguments)');
        const { jobs } = await client.dispatcher({ action: 'list' });
        expect(jobs).to.not.have.nested.property('no_queue.j');
      });
  });

  describe('connection lifetimes', function () {
    let server: TestServer;
    // Logins here use a token, fresh for each spec (logging out revokes
    // it): a password check takes a good part of the deadlines these
    // specs shorten.
    let token: string;

    before(async function () {
      server = await startServer({
        loginDeadlineMs: 300, idleTimeoutMs: 500, heartbeatMs: 300
      });
    });

    beforeEach(async function () {
      const login = await rest(`${server.restUrl}/rpc/auth`,
        { username: 'admin', password: server.adminPassword });
      token = login.body.args[0];
    });

    after(async function () {
      await server.stop();
    });

    it('closes a connection that does not log in within the deadline',
      async function () {
        const socket = await tryUpgrade(server.wsUrl) as WebSocket;
        const started = Date.now();
        const closed = await closeOf(socket);
        expect(closed).to.deep.equal({ code: 1008,
          reason: 'no login within 0.3 s' });
        expect(Date.now() - started).to.be.within(200, 3000);
      });

    it('starts the deadline again on logout', async function () {
      const socket = await loggedIn(server, token);
      const closed = closeOf(socket);
      socket.send(JSON.stringify({ namespace: 'rpc', name: 'auth_clear' }));
      expect((await closed).code).to.equal(1008);
    });

    it('closes an idle connection but keeps a subscribed one',
      async function () {
        const idle = await loggedIn(server, token);
        const started = Date.now();
        const idleClosed = closeOf(idle);
        const watching = await loggedIn(server, token);
        await ask(watching, 'subscribe', ['dispatcher'], 'events');
        expect((await idleClosed).code).to.equal(1000);
        // The timer started before the login reply left the server.
        expect(Date.now() - started).to.be.at.least(400);
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect(watching.readyState).to.equal(WebSocket.OPEN);
        watching.close();
      });

    it('drops a peer that stops answering pings', async function () {
      const deaf = await tryUpgrade(server.wsUrl, {
        autoPong: false
      }) as WebSocket;
      const healthy = await loggedIn(server, token);
      await ask(healthy, 'subscribe', ['dispatcher'], 'events');
      await ask(deaf, 'auth_token', { token });
      await ask(deaf, 'subscribe', ['dispatcher'], 'events');
      expect((await closeOf(deaf)).code).to.equal(1006);
      expect(healthy.readyState).to.equal(WebSocket.OPEN);
      healthy.close();
    });
  });
});
