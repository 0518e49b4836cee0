/**
 * Every request that needs a login, over both transports, with every
 * kind of bad credential: all are refused with a bare 401, and none
 * leaves a job behind.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import WebSocket from 'ws';

import { UserStore } from '../../lib/auth/users.js';
import { waitFor } from '../process/wait.js';
import {
  basic,
  rest,
  startServer,
  type TestServer
} from '../helpers/server.js';
import { ask, rawRequest } from './helpers.js';

/** Requests that need no login. */
const PUBLIC = new Set(['rpc/identify', 'rpc/auth', 'rpc/auth_token',
  'rpc/auth_clear']);

/** What each request is sent with: the worst it could do if let through. */
function argsFor(route: string, marker: string): unknown[] {
  if (route !== 'rpc/dispatcher') return [{}, ['dispatcher']];
  return [
    { action: 'run', pwned: `touch ${marker}` },
    { action: 'kill', job_id: 'victim' },
    { action: 'list' }
  ];
}

/** The requests the server knows, from its own 404 detail. */
async function knownRoutes(server: TestServer): Promise<string[]> {
  const reply = await rest(`${server.restUrl}/no/such`, {});
  const known = /known: (.*)$/.exec(reply.body.args.detail)![1];
  return known.split(', ');
}

/** Flips the case of every letter. */
function swapCase(text: string): string {
  return text.replace(/[a-z]/gi, (c) =>
    c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());
}

function expectBare401(args: any, secrets: string[]): void {
  expect(args).to.include({ code: 401, error: 'unauthorized' });
  expect(Object.keys(args).sort())
    .to.deep.equal(['code', 'detail', 'error', 'message']);
  for (const secret of secrets) {
    expect(JSON.stringify(args)).to.not.include(secret);
  }
}

describe('requests with missing or bad credentials', function () {
  let dataDir: string;
  let server: TestServer;
  let routes: string[];
  let marker: string;
  let adminToken: string;

  before(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-spec-'));
    const { store } = await UserStore.open(dataDir);
    await store.add('viewer', 'look-only', 'read');
    // Every check here is a failed login; none must lock the specs out.
    server = await startServer({
      dataDir, jobCwd: dataDir, loginFailureLimit: 100000
    });
    routes = await knownRoutes(server);
    marker = join(dataDir, 'pwned');
    const login = await rest(`${server.restUrl}/rpc/auth`,
      { username: 'admin', password: server.adminPassword });
    adminToken = login.body.args[0];
  });

  after(async function () {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Sends every route over REST with this Authorization header. */
  async function everyRestRoute(
    target: TestServer,
    authorization: string | null,
    secrets: string[]
  ): Promise<number> {
    let refused = 0;
    for (const route of routes) {
      if (authorization === null && PUBLIC.has(route)) continue;
      for (const args of argsFor(route, marker)) {
        const headers: Record<string, string> = {
          'Content-Type': 'application/json'
        };
        if (authorization !== null) headers.Authorization = authorization;
        const reply = await rawRequest(`${target.restUrl}/${route}`, {
          headers, body: JSON.stringify(args)
        });
        expect(reply.status, `${route} ${JSON.stringify(args)}`)
          .to.equal(401);
        expectBare401(reply.body.args, secrets);
        refused++;
      }
    }
    return refused;
  }

  /** Logs a WebSocket in with `token` (if any), then sends every route. */
  async function everyWsRoute(
    target: TestServer,
    token: string | null,
    secrets: string[],
    headers: Record<string, string> = {}
  ): Promise<void> {
    const socket = new WebSocket(target.wsUrl, { headers });
    await new Promise((resolve) => socket.once('open', resolve));
    if (token !== null) {
      const login = await ask(socket, 'auth_token', { token });
      expect(login.name).to.equal('error');
      expectBare401(login.args, secrets);
    }
    for (const route of routes) {
      if (PUBLIC.has(route)) continue;
      const [namespace, name] = route.split('/');
      for (const args of argsFor(route, marker)) {
        const reply = await ask(socket, name, args, namespace);
        expect(reply.name, route).to.equal('error');
        expectBare401(reply.args, secrets);
      }
    }
    socket.close();
  }

  function expectNoJob(target: TestServer): void {
    for (const sizes of target.server.dispatcher.queueSizes().values()) {
      expect(sizes).to.deep.include({ running: 0, pending: 0 });
    }
    expect(existsSync(marker)).to.equal(false);
  }

  it('knows the requests it checks', function () {
    expect(routes).to.include.members(['rpc/dispatcher', 'rpc/query',
      'events/subscribe']);
  });

  it('answers 401 to every request without credentials', async function () {
    expect(await everyRestRoute(server, null, [adminToken]))
      .to.be.at.least(5);
    await everyWsRoute(server, null, [adminToken]);
    expectNoJob(server);
  });

  it('answers 401 to a wrong token, a short one, and the right one ' +
    'padded or in other case', async function () {
    const variants = [
      'A'.repeat(43),
      adminToken.slice(0, -1),
      `${adminToken}=`,
      `${adminToken}==`,
      ` ${adminToken}`,
      swapCase(adminToken)
    ];
    for (const token of variants) {
      await everyRestRoute(server, `Bearer ${token}`, [adminToken]);
      await everyWsRoute(server, token, [adminToken]);
    }
    expectNoJob(server);
    // The right token still works: nothing above revoked it.
    const list = await rest(`${server.restUrl}/rpc/dispatcher`,
      { action: 'list' }, { Authorization: `Bearer ${adminToken}` });
    expect(list.status).to.equal(200);
  });

  it('answers 401 to a wrong password, whether or not the user exists',
    async function () {
      const wrong = basic('admin', 'not-the-password');
      const nobody = basic('no-such-user', 'not-the-password');
      await everyRestRoute(server, wrong.Authorization, [adminToken]);
      await everyRestRoute(server, nobody.Authorization, [adminToken]);
      const a = await rest(`${server.restUrl}/rpc/query`, {}, wrong);
      const b = await rest(`${server.restUrl}/rpc/query`, {}, nobody);
      expect(a.body).to.deep.equal(b.body);
      expectNoJob(server);
    });

  it('answers 401 to a revoked token', async function () {
    const login = await rest(`${server.restUrl}/rpc/auth`,
      { username: 'admin', password: server.adminPassword });
    const [token] = login.body.args;
    const cleared = await rest(`${server.restUrl}/rpc/auth_clear`, {},
      { Authorization: `Bearer ${token}` });
    expect(cleared.status).to.equal(200);
    await everyRestRoute(server, `Bearer ${token}`, [token]);
    await everyWsRoute(server, token, [token]);
    expectNoJob(server);
  });

  it('answers 401 to a token past its idle time or its whole life',
    async function () {
      const idle = await startServer({
        tokenIdleMs: 200, loginFailureLimit: 100000
      });
      const life = await startServer({
        tokenIdleMs: 60000, tokenMaxLifeMs: 600, loginFailureLimit: 100000
      });
      try {
        const [idleToken] = (await rest(`${idle.restUrl}/rpc/auth`,
          { username: 'admin', password: idle.adminPassword })).body.args;
        const [lifeToken, seconds] = (await rest(`${life.restUrl}/rpc/auth`,
          { username: 'admin', password: life.adminPassword })).body.args;
        expect(seconds).to.equal(1);
        // Used all along, the second token still ends with its life.
        const bearer = { Authorization: `Bearer ${lifeToken}` };
        await waitFor(async () => (await rest(`${life.restUrl}/rpc/query`,
          {}, bearer)).status === 401, 3000, 'the end of the token');
        await waitFor(async () => (await rest(`${idle.restUrl}/rpc/query`,
          {}, { Authorization: `Bearer ${idleToken}` })).status === 401,
        3000, 'the token to expire');
        await everyRestRoute(idle, `Bearer ${idleToken}`, [idleToken]);
        await everyWsRoute(idle, idleToken, [idleToken]);
        await everyRestRoute(life, `Bearer ${lifeToken}`, [lifeToken]);
        await everyWsRoute(life, lifeToken, [lifeToken]);
        expectNoJob(idle);
        expectNoJob(life);
      } finally {
        await idle.stop();
        await life.stop();
      }
    });

  it('grants nothing for credentials sent on the WebSocket upgrade',
    async function () {
      await everyWsRoute(server, null, [], {
        Authorization: `Bearer ${adminToken}`,
        Cookie: `token=${adminToken}`
      });
      expectNoJob(server);
    });

  it('grants nothing for a cookie over REST', async function () {
    const reply = await rawRequest(`${server.restUrl}/rpc/dispatcher`, {
      headers: { Cookie: `token=${adminToken}; session=${adminToken}` },
      body: JSON.stringify({ action: 'run', pwned: `touch ${marker}` })
    });
    expect(reply.status).to.equal(401);
    expectNoJob(server);
  });

  it('answers 403 to a read-only user who runs or kills, on every path',
    async function () {
      const viewer = basic('viewer', 'look-only');
      const [token] = (await rest(`${server.restUrl}/rpc/auth`,
        { username: 'viewer', password: 'look-only' })).body.args;
      const bearer = { Authorization: `Bearer ${token}` };
      for (const headers of [viewer, bearer]) {
        for (const args of argsFor('rpc/dispatcher', marker).slice(0, 2)) {
          const reply = await rest(`${server.restUrl}/rpc/dispatcher`,
            args, headers);
          expect(reply.status).to.equal(403);
          expect(reply.body.args.error).to.equal('forbidden');
        }
      }
      const socket = new WebSocket(server.wsUrl);
      await new Promise((resolve) => socket.once('open', resolve));
      await ask(socket, 'auth', { username: 'viewer', password: 'look-only' });
      for (const args of argsFor('rpc/dispatcher', marker).slice(0, 2)) {
        const reply = await ask(socket, 'dispatcher', args);
        expect(reply.args.code).to.equal(403);
      }
      socket.close();
      expectNoJob(server);
    });
});
