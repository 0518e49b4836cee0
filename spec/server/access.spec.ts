import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { UserStore } from '../../lib/auth/users.js';
import {
  basic,
  RawSocket,
  rest,
  startServer,
  type TestServer
} from '../helpers/server.js';

describe('logins and roles', function () {
  let server: TestServer;

  let dataDir: string;

  before(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-spec-'));
    const { store } = await UserStore.open(dataDir);
    await store.add('viewer', 'look-only', 'read');
    server = await startServer({ dataDir, jobCwd: dataDir });
  });

  after(async function () {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates admin with a random password in a 0600 file on first start',
    async function () {
      const fresh = await startServer();
      try {
        const file = join(fresh.dataDir, 'admin-password');
        const saved = (await readFile(file, 'utf8')).trim();
        expect(saved).to.equal(fresh.adminPassword);
        expect(saved.length).to.be.at.least(20);
        expect((await stat(file)).mode & 0o777).to.equal(0o600);
        const users = await readFile(join(fresh.dataDir, 'users.json'), 'utf8');
        expect(users).to.not.include(saved);
        expect(users).to.match(/"password": "scrypt\$/);
      } finally {
        await fresh.stop();
      }
    });

  it('answers 401 over WebSocket without a login', async function () {
    const socket = await RawSocket.open(server.wsUrl);
    socket.send({
      namespace: 'rpc', name: 'dispatcher', id: 'x', args: { action: 'list' }
    });
    const reply = await socket.reply('x');
    expect(reply.name).to.equal('error');
    expect(reply.args).to.include({ code: 401, message: 'Unauthorized' });
    expect(reply.args.detail).to.match(/log in first/);
    socket.close();
  });

  it('answers 401 over REST without credentials or with a bad token',
    async function () {
      const none = await rest(`${server.restUrl}/rpc/dispatcher`,
        { action: 'list' });
      expect(none.status).to.equal(401);
      expect(none.body.args.code).to.equal(401);
      const token = await rest(`${server.restUrl}/rpc/dispatcher`,
        { action: 'list' }, { Authorization: 'Bearer nope' });
      expect(token.status).to.equal(401);
      const password = await rest(`${server.restUrl}/rpc/dispatcher`,
        { action: 'list' }, basic('admin', 'wrong'));
      expect(password.status).to.equal(401);
    });

  it('answers 403 to a read-only user who runs or kills', async function () {
    const viewer = await server.connect('viewer', 'look-only');
    const listed = await viewer.dispatcher({ action: 'list' });
    expect(listed).to.have.property('jobs');
    const run = await viewer.dispatcher({ action: 'run', x: 'true' })
      .catch((e) => e);
    expect(run.code).to.equal(403);
    const kill = await viewer.dispatcher({ action: 'kill', job_id: 'x' })
      .catch((e) => e);
    expect(kill.code).to.equal(403);
    const over = await rest(`${server.restUrl}/rpc/dispatcher`,
      { action: 'run', y: 'true' }, basic('viewer', 'look-only'));
    expect(over.status).to.equal(403);
    const { jobs } = await viewer.dispatcher({ action: 'list' });
    expect(jobs).to.deep.equal({});
  });

  it('serves a login and a request sent back to back', async function () {
    const socket = await RawSocket.open(server.wsUrl);
    socket.send({
      namespace: 'rpc', name: 'auth', id: 'login',
      args: { username: 'admin', password: server.adminPassword }
    });
    socket.send({
      namespace: 'rpc', name: 'dispatcher', id: 'now',
      args: { action: 'list' }
    });
    const login = await socket.reply('login');
    const list = await socket.reply('now');
    expect(login.name).to.equal('response');
    expect(login.args).to.have.length(2);
    expect(list.name).to.equal('response');
    expect(socket.messages.map((m) => m.id)).to.deep.equal(['login', 'now']);
    socket.close();
  });

  it('resumes a session with auth_token and ends it with auth_clear',
    async function () {
      const socket = await RawSocket.open(server.wsUrl);
      socket.send({
        namespace: 'rpc', name: 'auth', id: 'a',
        args: { username: 'admin', password: server.adminPassword }
      });
      const [token, seconds] = (await socket.reply('a')).args;
      expect(seconds).to.equal(900);
      const other = await RawSocket.open(server.wsUrl);
      other.send({ namespace: 'rpc', name: 'auth_token', id: 'b',
        args: { token } });
      expect((await other.reply('b')).name).to.equal('response');
      other.send({ namespace: 'rpc', name: 'auth_clear', id: 'c', args: {} });
      other.send({ namespace: 'rpc', name: 'query', id: 'd', args: {} });
      expect((await other.reply('d')).args.code).to.equal(401);
      expect(other.messages.some((m) => m.id === 'c')).to.equal(false);
      const bearer = await rest(`${server.restUrl}/rpc/dispatcher`,
        { action: 'list' }, { Authorization: `Bearer ${token}` });
      expect(bearer.status).to.equal(401);
      socket.close();
      other.close();
    });

  it('takes HTTP Basic and bearer tokens over REST', async function () {
    const login = await rest(`${server.restUrl}/rpc/auth`, {
      username: 'admin', password: server.adminPassword
    });
    expect(login.status).to.equal(200);
    const [token] = login.body.args;
    const run = await rest(`${server.restUrl}/rpc/dispatcher`,
      { args: { action: 'run', rested: 'true' } },
      { Authorization: `Bearer ${token}` });
    expect(run.status).to.equal(200);
    expect(run.body.args).to.deep.equal({
      started: ['rested'], queue: 'no_queue'
    });
    const listed = await rest(`${server.restUrl}/rpc/dispatcher`,
      { action: 'list' }, basic('admin', server.adminPassword), 'POST');
    expect(listed.status).to.equal(200);
  });

  it('tells each role what it may do through rpc/query', async function () {
    const admin = await server.connect();
    const viewer = await server.connect('viewer', 'look-only');
    expect((await admin.request('rpc', 'query', {}))['rpc/dispatcher'])
      .to.equal('read/write');
    expect((await viewer.request('rpc', 'query', {}))['rpc/dispatcher'])
      .to.equal('read');
  });

  it('identifies itself without a login', async function () {
    const socket = await RawSocket.open(server.wsUrl);
    socket.send({ namespace: 'rpc', name: 'identify', id: 'i' });
    const reply = await socket.reply('i');
    expect(reply.args.type).to.equal('server');
    expect(reply.args.hostname).to.be.a('string');
    socket.close();
  });
});

