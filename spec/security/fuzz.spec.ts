/**
 * The fuzzer: seeded random and mutated requests over both transports.
 * After every request the server must have answered in the documented
 * shape, never with a 500; at the end it must still serve, have run
 * only jobs that were asked for, leave no process behind, and have
 * logged no fault, unhandled rejection or uncaught exception.
 *
 * `FUZZ_RUNS` (requests per transport, default 1500) and `FUZZ_SEED`
 * change the run; `npm run fuzz` makes a long one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import fc from 'fast-check';
import WebSocket from 'ws';

import { sharedSpawner } from '../../lib/process/spawner.js';
import { errorCatalogue, type ErrorName } from '../../lib/rpc/errors.js';
import { waitFor } from '../process/wait.js';
import { captureLog, startServer, type TestServer } from '../helpers/server.js';
import {
  restRequest,
  wsRequest,
  type RestFuzz,
  type WsFuzz
} from './fuzz-requests.js';
import { rawRequest, tryUpgrade } from './helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const SEED = process.env.FUZZ_SEED === 'random'
  ? Date.now() % 2 ** 31
  : Number(process.env.FUZZ_SEED ?? 20250101);

/** Checks an error reply's args against the catalogue. */
function expectWellFormedError(args: any, context: string): void {
  expect(Object.keys(args ?? {}).sort(), context)
    .to.deep.equal(['code', 'detail', 'error', 'message']);
  expect(Object.hasOwn(errorCatalogue, args.error), context).to.equal(true);
  const entry = errorCatalogue[args.error as ErrorName];
  expect(args.code, context).to.equal(entry.code);
  expect(args.message, context).to.equal(entry.message);
  expect(args.detail, context).to.be.a('string');
  expect(args.code, `${context}: ${args.detail}`).to.be.below(500);
}

/** Job ids named by a request the server took, from its reply. */
function startedIds(reply: any): string[] {
  const started = reply?.args?.started;
  return Array.isArray(started) ? started : [];
}

/**
 * Live processes whose parent is this one or its spawn helper: the
 * server's jobs.
 */
function children(): string[] {
  const helper = sharedSpawner().pid;
  const table = execFileSync('ps', ['-eo', 'pid=,ppid=,stat=,args='], {
    encoding: 'utf8'
  });
  return table.trim().split('\n').map((line) => line.trim())
    .filter((line) => {
      const [pid, ppid, stat] = line.split(/\s+/);
      const parent = Number(ppid);
      return (parent === process.pid || parent === helper) &&
        !stat.startsWith('Z') && !line.includes('ps -eo') &&
        Number(pid) !== process.pid && Number(pid) !== helper;
    });
}

describe('fuzzing both transports', function () {
  this.timeout(Math.max(60000, RUNS * 100));

  let dataDir: string;
  let server: TestServer;
  let lines: any[];
  let token: string;
  const asked = new Set<string>();
  const queued = new Set<string>();
  const faults: unknown[] = [];
  /** Replies by code, so a run shows what it reached. */
  const codes = new Map<string, number>();
  const count = (code: string) => codes.set(code, (codes.get(code) ?? 0) + 1);
  const onFault = (error: unknown) => faults.push(error);

  before(async function () {
    console.log(`    fuzz seed ${SEED}, ${RUNS} requests per transport`);
    process.on('unhandledRejection', onFault);
    process.on('uncaughtException', onFault);
    dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-fuzz-'));
    const capture = captureLog();
    lines = capture.lines;
    server = await startServer({
      dataDir,
      jobCwd: dataDir,
      // Random commands are harmless ones, and as root they run as
      // nobody all the same.
      runAs: process.getuid?.() === 0 ? 'nobody' : null,
      loginFailureLimit: 1e9,
      maxMessageBytes: 64 * 1024,
      maxBodyBytes: 64 * 1024,
      maxLiveJobs: 40,
      maxLiveJobsPerQueue: 20,
      graceMs: 200
    }, { log: capture.log });
    await renewToken();
  });

  /** Logs in with the password; a fuzzed logout may revoke the token. */
  async function renewToken(): Promise<void> {
    const login = await rawRequest(`${server.restUrl}/rpc/auth`, {
      body: JSON.stringify({ username: 'admin',
        password: server.adminPassword })
    });
    token = login.body.args[0];
  }

  after(async function () {
    const summary = [...codes].sort().map(([code, n]) => `${code}: ${n}`);
    console.log(`    replies ${summary.join(', ')}; ${asked.size} jobs run`);
    process.off('unhandledRejection', onFault);
    process.off('uncaughtException', onFault);
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** A logged-in, subscribed socket that records the jobs queued. */
  async function session(): Promise<WebSocket> {
    const socket = await tryUpgrade(server.wsUrl) as WebSocket;
    socket.on('error', () => {});
    socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      if (message.namespace === 'events' && message.args?.event === 'queued') {
        queued.add(message.args.process_id);
      }
    });
    const login = () => exchange(socket, JSON.stringify({ namespace: 'rpc',
      name: 'auth_token', id: 'login', args: { token } }));
    if ((await login())?.[0]?.name !== 'response') {
      await renewToken();
      expect((await login())?.[0]?.name).to.equal('response');
    }
    await exchange(socket, JSON.stringify({ namespace: 'events',
      name: 'subscribe', id: 's', args: ['dispatcher'] }));
    return socket;
  }

  /**
   * Sends a message, then a marker request; resolves with every reply
   * (not event) that came before the marker's. Requests on a connection
   * are served in order, so those are the message's.
   */
  function exchange(socket: WebSocket, data: string | Uint8Array):
    Promise<any[] | null> {
    const marker = `marker-${Math.random()}`;
    return new Promise((resolve) => {
      const replies: any[] = [];
      const onMessage = (raw: WebSocket.RawData) => {
        const message = JSON.parse(String(raw));
        if (message.id === marker) {
          done(replies);
        } else if (message.namespace !== 'events' ||
          ['response', 'error'].includes(message.name)) {
          replies.push(message);
        }
      };
      const done = (result: any[] | null) => {
        socket.off('message', onMessage);
        socket.off('close', onClose);
        resolve(result);
      };
      const onClose = () => done(null);
      socket.on('message', onMessage);
      socket.once('close', onClose);
      socket.send(data);
      socket.send(JSON.stringify({ namespace: 'rpc', name: 'identify',
        id: marker }));
    });
  }

  it('answers every WebSocket message well formed, never with a 500',
    async function () {
      let socket = await session();
      await fc.assert(fc.asyncProperty(wsRequest, async (request: WsFuzz) => {
        const data = request.kind === 'json'
          ? JSON.stringify(request.value) ?? 'null'
          : request.kind === 'text' ? request.text : request.bytes;
        const context = String(data).slice(0, 300);
        const replies = await exchange(socket, data);
        if (replies === null) {
          // Closed: only an oversized message may do that.
          expect(Buffer.byteLength(data as string), context)
            .to.be.above(64 * 1024);
          socket = await session();
          return;
        }
        expect(replies.length, context).to.be.at.most(1);
        for (const reply of replies) {
          expect(['response', 'error'], context).to.include(reply.name);
          expect(reply.namespace, context).to.be.a('string');
          expect(['string', 'number'], context).to.include(typeof reply.id);
          count(`ws ${reply.name === 'error' ? reply.args.code : 200}`);
          if (reply.name === 'error') {
            expectWellFormedError(reply.args, context);
          }
          for (const id of startedIds(reply)) asked.add(id);
        }
        if (replies.length === 0) {
          // Only a logout is answered with silence.
          expect(context, context).to.match(/auth_clear/);
          socket.close();
          socket = await session();
        }
      }), { seed: SEED, numRuns: RUNS, endOnFailure: true });
      socket.close();
    });

  it('answers every REST request well formed, never with a 500',
    async function () {
      const headersFor = (request: RestFuzz): Record<string, string> => {
        switch (request.auth) {
          case 'token': return { Authorization: `Bearer ${token}` };
          case 'bad-token': return { Authorization: `Bearer ${token}x` };
          case 'bad-basic': return { Authorization: 'Basic YWRtaW46eA==' };
          case 'junk': return { Authorization: 'Digest \u00ff' };
          default: return {};
        }
      };
      await fc.assert(fc.asyncProperty(restRequest, async (request) => {
        const context = JSON.stringify(request).slice(0, 300);
        const reply = await rawRequest(`${server.restUrl}${request.path}`, {
          method: request.method,
          headers: { ...headersFor(request), ...request.headers },
          body: request.body
        }).catch((error: Error) => ({ status: -1, body: error.message,
          headers: {} }));
        count(`rest ${reply.status}`);
        // Malformed paths are answered by the HTTP parser itself.
        if (reply.status === 400 && typeof reply.body === 'string') return;
        expect(reply.status, context).to.be.above(0);
        if (request.method === 'OPTIONS' && reply.status === 204) return;
        expect(reply.body, context).to.have.property('args');
        if (request.path.includes('auth_clear')) await renewToken();
        if (reply.status === 200) {
          for (const id of startedIds(reply.body)) asked.add(id);
          return;
        }
        expectWellFormedError(reply.body.args, context);
        expect(reply.body.args.code, context).to.equal(reply.status);
      }), { seed: SEED + 1, numRuns: RUNS, endOnFailure: true });
    });

  it('is still up, ran only what was asked, and left nothing behind',
    async function () {
      const identify = await rawRequest(`${server.restUrl}/rpc/identify`);
      expect(identify.status).to.equal(200);
      const socket = await session();
      expect((await exchange(socket, JSON.stringify({ namespace: 'rpc',
        name: 'query', id: 'q' })))?.[0]?.name).to.equal('response');

      for (const id of queued) expect(asked, id).to.include(id);
      const { dispatcher } = server.server;
      for (const config of dispatcher.queues) {
        await exchange(socket, JSON.stringify({ namespace: 'rpc',
          name: 'dispatcher', id: 'r',
          args: { action: 'resume', queue: config.name } }));
      }
      const live = dispatcher.list().entries.map((entry) => entry.job.id);
      for (const id of live) expect(asked, id).to.include(id);
      dispatcher.kill(live, 'fuzz-spec', 0);
      await waitFor(() => [...dispatcher.queueSizes().values()]
        .every((size) => size.running + size.pending === 0), 10000,
      'every job to end');
      await waitFor(() => children().length === 0, 5000,
        'no process left');
      socket.close();

      expect(faults).to.deep.equal([]);
      const errors = lines.filter((line) => line.level >= 50);
      expect(errors, JSON.stringify(errors.slice(0, 3))).to.deep.equal([]);
    });
});
