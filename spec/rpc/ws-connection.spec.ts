import { expect } from 'chai';

import { RawSocket, startServer, type TestServer } from '../helpers/server.js';

describe('a WebSocket connection with many requests in flight', function () {
  let server: TestServer;

  before(async function () {
    server = await startServer();
  });

  after(async function () {
    await server.stop();
  });

  it('answers them in the order they were sent', async function () {
    const socket = await RawSocket.open(server.wsUrl);
    socket.send({
      namespace: 'rpc', name: 'auth', id: 'login',
      args: { username: 'admin', password: server.adminPassword }
    });
    await socket.reply('login');
    socket.send({ namespace: 'events', name: 'subscribe', id: 'sub',
      args: ['dispatcher'] });
    await socket.reply('sub');

    // Replies of all kinds, sent back to back without waiting: quick
    // ones, errors, a request that reads files, and a run whose events
    // must come after its reply.
    const requests = [];
    for (let i = 0; i < 300; i++) {
      const id = `r${i}`;
      if (i === 150) {
        requests.push({ namespace: 'rpc', name: 'dispatcher', id,
          args: { action: 'run', piped: 'echo piped' } });
      } else if (i % 7 === 3) {
        requests.push({ namespace: 'rpc', name: 'dispatcher', id,
          args: { action: 'get', job_id: 'no-such-job' } });
      } else if (i % 5 === 1) {
        requests.push({ namespace: 'rpc', name: 'query', id });
      } else {
        requests.push({ namespace: 'rpc', name: 'dispatcher', id,
          args: { action: 'list' } });
      }
    }
    for (const request of requests) socket.send(request);
    await socket.reply('r299');

    const replies = socket.messages
      .filter((message) => String(message.id).startsWith('r'));
    expect(replies.map((message) => message.id))
      .to.deep.equal(requests.map((request) => request.id));
    expect(replies[3].name).to.equal('error');
    expect(replies[3].args.error).to.equal('not_found');
    expect(replies[1].args).to.have.property('rpc/dispatcher');
    const isQueued = (message: any) => message.name === 'dispatcher' &&
      message.args.event === 'queued' && message.args.process_id === 'piped';
    const deadline = Date.now() + 5000;
    while (!socket.messages.some(isQueued) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const queued = socket.messages.findIndex(isQueued);
    const runReply = socket.messages.findIndex((message) =>
      message.id === 'r150');
    expect(queued).to.be.above(runReply);
    socket.close();
  });
});
