/**
 * Prototype pollution: requests that name `__proto__`, `constructor` and
 * the like, anywhere a name or key goes, over both transports. They are
 * unknown names or bad fields; no object prototype changes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import WebSocket from 'ws';

import { UserStore } from '../../lib/auth/users.js';
import { basic, startServer, type TestServer } from '../helpers/server.js';
import { ask, rawRequest, tryUpgrade } from './helpers.js';

const NAMES = ['__proto__', 'constructor', 'prototype', 'toString',
  'hasOwnProperty', 'valueOf', '__defineGetter__'];

/** A payload that would show up on every object if it got through. */
const POISON = '{"polluted":"yes","toString":"no","isAdmin":true}';

function envelopes(): string[] {
  const texts: string[] = [];
  for (const name of NAMES) {
    texts.push(
      `{"namespace":"${name}","name":"${name}","id":"e"}`,
      `{"namespace":"rpc","name":"${name}","id":"e"}`,
      `{"__proto__":${POISON},"namespace":"rpc","name":"query","id":"e"}`,
      `{"namespace":"rpc","name":"dispatcher","id":"e",` +
        `"args":{"action":"${name}"}}`,
      `{"namespace":"rpc","name":"dispatcher","id":"e",` +
        `"args":{"action":"run","${name}":${POISON}}}`,
      `{"namespace":"rpc","name":"dispatcher","id":"e",` +
        `"args":{"action":"run","__proto__":${POISON},"ok":"true"}}`,
      `{"namespace":"rpc","name":"dispatcher","id":"e",` +
        `"args":{"action":"list","queue":"${name}"}}`,
      `{"namespace":"rpc","name":"dispatcher","id":"e",` +
        `"args":{"action":"list","after":"${name}"}}`,
      `{"namespace":"rpc","name":"dispatcher","id":"e",` +
        `"args":{"action":"kill","job_id":["${name}"]}}`,
      `{"namespace":"rpc","name":"auth","id":"e",` +
        `"args":{"username":"${name}","password":"x","__proto__":${POISON}}}`,
      `{"namespace":"events","name":"subscribe","id":"e",` +
        `"args":["${name}"]}`,
      `{"namespace":"events","name":"subscribe","id":"e",` +
        `"args":{"__proto__":${POISON},"events":"dispatcher"}}`
    );
  }
  return texts;
}

function prototypes() {
  return [Object.prototype, Array.prototype, Function.prototype,
    String.prototype].map((proto) => Object.getOwnPropertyNames(proto).sort());
}

describe('prototype pollution attempts', function () {
  let dataDir: string;
  let server: TestServer;
  let before: string[][];

  beforeEach(async function () {
    before = prototypes();
    dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-spec-'));
    server = await startServer({ dataDir, jobCwd: dataDir,
      loginFailureLimit: 100000 });
  });

  afterEach(async function () {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  function unpolluted(): void {
    const probe: Record<string, unknown> = {};
    expect(probe.polluted).to.equal(undefined);
    expect(probe.isAdmin).to.equal(undefined);
    expect(String(probe)).to.equal('[object Object]');
    expect(prototypes()).to.deep.equal(before);
  }

  it('changes nothing over the WebSocket', async function () {
    const socket = await tryUpgrade(server.wsUrl) as WebSocket;
    await ask(socket, 'auth', {
      username: 'admin', password: server.adminPassword
    });
    const replies: any[] = [];
    socket.on('message', (data) => replies.push(JSON.parse(String(data))));
    const sent = envelopes();
    for (const text of sent) socket.send(text);
    const end = await ask(socket, 'dispatcher', { action: 'list' });
    expect(replies.length).to.be.at.least(sent.length);
    for (const reply of replies.slice(0, sent.length)) {
      expect(['response', 'error']).to.include(reply.name);
      if (reply.name === 'error') expect(reply.args.code).to.be.below(500);
    }
    unpolluted();
    // A job named `constructor` is just a job; `__proto__` is refused.
    expect(end.args.jobs).to.not.have.nested.property('no_queue.ok');
    socket.close();
  });

  it('changes nothing over REST', async function () {
    const login = await rawRequest(`${server.restUrl}/rpc/auth`, {
      headers: basic('admin', server.adminPassword),
      body: JSON.stringify({ username: 'admin',
        password: server.adminPassword })
    });
    // A token, not Basic: a password check per request would be slow.
    const auth = { Authorization: `Bearer ${login.body.args[0]}` };
    for (const name of NAMES) {
      for (const path of [`/${name}/${name}`, `/rpc/${name}`,
        `/${encodeURIComponent(name)}/x`]) {
        const reply = await rawRequest(`${server.restUrl}${path}`, {
          headers: auth, body: `{"args":${POISON}}`
        });
        expect(reply.status, path).to.equal(404);
      }
    }
    for (const text of envelopes()) {
      const envelope = JSON.parse(text);
      const reply = await rawRequest(
        `${server.restUrl}/${envelope.namespace}/${envelope.name}`,
        { headers: auth, body: JSON.stringify(envelope.args ?? {}) });
      expect(reply.status, text).to.be.below(500);
    }
    const wrapped = await rawRequest(`${server.restUrl}/rpc/dispatcher`, {
      headers: auth,
      body: `{"__proto__":{"args":{"action":"run","p":"true"}},` +
        `"action":"list"}`
    });
    expect(wrapped.status).to.equal(200);
    expect(wrapped.body.args).to.have.property('jobs');
    unpolluted();
  });

  it('treats users named like prototype members as plain names',
    async function () {
      const { store } = await UserStore.open(dataDir);
      await store.add('__proto__', 'pw-proto', 'read');
      await store.add('constructor', 'pw-ctor', 'read');
      const reopened = (await UserStore.open(dataDir)).store;
      expect(await reopened.verify('__proto__', 'pw-proto')).to.equal('read');
      expect(await reopened.verify('constructor', 'pw-ctor')).to.equal('read');
      expect(await reopened.verify('toString', 'x')).to.equal(null);
      expect(await reopened.verify('hasOwnProperty', '')).to.equal(null);
      unpolluted();
    });
});
