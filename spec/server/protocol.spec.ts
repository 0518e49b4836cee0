import { expect } from 'chai';

import {
  basic,
  RawSocket,
  rest,
  startServer,
  type TestServer
} from '../helpers/server.js';

describe('wire protocol errors', function () {
  let server: TestServer;
  let socket: RawSocket;

  before(async function () {
    server = await startServer();
  });

  after(async function () {
    await server.stop();
  });

  beforeEach(async function () {
    socket = await RawSocket.open(server.wsUrl);
    socket.send({
      namespace: 'rpc', name: 'auth', id: 'login',
      args: { username: 'admin', password: server.adminPassword }
    });
    expect((await socket.reply('login')).name).to.equal('response');
  });

  afterEach(function () {
    socket.close();
  });

  async function ask(args: unknown, name = 'dispatcher', ns = 'rpc') {
    const id = `q${Math.random()}`;
    socket.send({ namespace: ns, name, id, args });
    return (await socket.reply(id)).args;
  }

  it('answers bad JSON with 400 and keeps the connection working',
    async function () {
      socket.send('{"namespace": "rpc", "name": ');
      await waitForMessages(socket, 2);
      const reply = socket.messages[1];
      expect(reply).to.include({ namespace: 'rpc', name: 'error', id: '' });
      expect(reply.args).to.include({ code: 400, error: 'bad_json' });
      expect(reply.args.detail).to.match(/not valid JSON/);
      const listed = await ask({ action: 'list' });
      expect(listed).to.have.property('jobs');
    });

  it('names the field that has the wrong type', async function () {
    const reply = await ask({ action: 'kill', job_id: 42 });
    expect(reply).to.include({ code: 400, message: 'Bad Request' });
    expect(reply.detail)
      .to.equal('args.job_id must be a string or an array of strings');
  });

  it('names a bad chain in a run request', async function () {
    const reply = await ask({ action: 'run', good: 'true', bad: [1] });
    expect(reply.code).to.equal(400);
    expect(reply.detail).to.match(/^args\.bad/);
    const { jobs } = await ask({ action: 'list' });
    expect(jobs).to.deep.equal({});
  });

  it('refuses an unknown action, namespace or name', async function () {
    const action = await ask({ action: 'explode' });
    expect(action).to.include({ code: 400, error: 'unknown_action' });
    expect(action.detail).to.match(/'explode' is not one of run, list, kill/);
    const name = await ask({}, 'nothing');
    expect(name).to.include({ code: 404, error: 'not_found' });
    const proto = await ask({}, '__proto__', 'constructor');
    expect(proto.code).to.equal(404);
    const missing = await ask({});
    expect(missing.detail).to.match(/args.action is required/);
  });

  it('refuses an unknown queue with the list of queues', async function () {
    const reply = await ask({ action: 'run', queue: 'nope', x: 'true' });
    expect(reply.code).to.equal(400);
    expect(reply.detail).to.equal(
      "queue 'nope' does not exist (queues: no_queue, pkg_queue, iocage_queue)"
    );
  });

  it('refuses an envelope that is not an object', async function () {
    socket.send('[1, 2, 3]');
    socket.send('"text"');
    await waitForMessages(socket, 3);
    expect(socket.messages[1].args.code).to.equal(400);
    expect(socket.messages[2].args.code).to.equal(400);
  });

  it('answers REST bad JSON with 400 and a bad path with 404',
    async function () {
      const auth = basic('admin', server.adminPassword);
      const bad = await rest(`${server.restUrl}/rpc/dispatcher`, '{oops', auth);
      expect(bad.status).to.equal(400);
      expect(bad.body.args.error).to.equal('bad_json');
      const path = await rest(`${server.restUrl}/rpc`, {}, auth);
      expect(path.status).to.equal(404);
      const method = await rest(`${server.restUrl}/rpc/dispatcher`, {},
        auth, 'DELETE');
      expect(method.status).to.equal(405);
    });

  it('refuses events over REST, which cannot carry them', async function () {
    const reply = await rest(`${server.restUrl}/events/subscribe`,
      ['dispatcher'], basic('admin', server.adminPassword));
    expect(reply.status).to.equal(400);
    expect(reply.body.args.detail).to.match(/WebSocket/);
  });

  it('refuses a subscription to an unknown event', async function () {
    const reply = await ask(['dispatcher', 'weather'], 'subscribe', 'events');
    expect(reply).to.include({ code: 400, error: 'unknown_event' });
  });
});

async function waitForMessages(socket: RawSocket, count: number) {
  const deadline = Date.now() + 5000;
  while (socket.messages.length < count) {
    if (Date.now() > deadline) throw new Error('too few messages');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
