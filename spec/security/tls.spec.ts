/**
 * TLS on both ports with a certificate made at test time, and the rule
 * that keeps plain text off the network.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';
import WebSocket from 'ws';

import { defaults } from '../../lib/config.js';
import { DispatcherServer } from '../../lib/server.js';
import { loadTls, PLAINTEXT_FLAG } from '../../lib/security/tls.js';
import { basic, startServer, type TestServer } from '../helpers/server.js';
import {
  ask,
  hasOpenssl,
  makeCertificate,
  rawRequest,
  tryUpgrade
} from './helpers.js';

const bin = fileURLToPath(
  new URL('../../../bin/dispatcher.js', import.meta.url)
);

describe('TLS', function () {
  let dir: string;
  let files: { cert: string; key: string };
  let ca: Buffer;
  let server: TestServer;

  before(async function () {
    if (!hasOpenssl()) {
      console.log('    skipped: the openssl command line is not installed');
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), 'dispatcher-tls-'));
    files = makeCertificate(dir);
    ca = readFileSync(files.cert);
    server = await startServer({ tlsCert: files.cert, tlsKey: files.key });
  });

  after(async function () {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function url(scheme: string, port: number): string {
    return `${scheme}://127.0.0.1:${port}`;
  }

  it('serves wss:// to a client that trusts the certificate',
    async function () {
      const socket = await tryUpgrade(url('wss', server.server.wsPort), {
        ca
      }) as WebSocket;
      const login = await ask(socket, 'auth', {
        username: 'admin', password: server.adminPassword
      });
      expect(login.name).to.equal('response');
      socket.close();
    });

  it('serves https:// REST', async function () {
    const reply = await rawRequest(`${url('https', server.server.restPort)}` +
      '/rpc/dispatcher', {
      ca,
      headers: basic('admin', server.adminPassword),
      body: JSON.stringify({ action: 'list' })
    });
    expect(reply.status).to.equal(200);
    expect(reply.body.args).to.have.property('jobs');
  });

  it('speaks no plain text on either port', async function () {
    const plainWs = await tryUpgrade(url('ws', server.server.wsPort))
      .then(() => 'opened', () => 'failed');
    expect(plainWs).to.equal('failed');
    const plainRest = await rawRequest(
      `${url('http', server.server.restPort)}/rpc/identify`
    ).then(() => 'answered', () => 'failed');
    expect(plainRest).to.equal('failed');
  });

  it('refuses a client that does not trust the certificate',
    async function () {
      const error = await tryUpgrade(url('wss', server.server.wsPort))
        .then(() => null, (e: Error) => e);
      expect(error?.message).to.match(/self.signed|certificate/i);
    });

  it('works with the command line through NODE_EXTRA_CA_CERTS',
    async function () {
      const run = await new Promise<{ code: number; out: string }>(
        (resolve) => execFile(process.execPath, [bin, 'list', '--json'], {
          env: {
            ...process.env,
            NODE_EXTRA_CA_CERTS: files.cert,
            DISPATCHER_URL: url('wss', server.server.wsPort),
            DISPATCHER_DATA_DIR: server.dataDir
          }
        }, (error, out) => resolve({ code: error ? 1 : 0, out })));
      expect(run.code).to.equal(0);
      expect(JSON.parse(run.out)).to.have.property('jobs');
    });
});

describe('listening on a network', function () {
  const plain = {
    host: '0.0.0.0', tlsCert: null, tlsKey: null, allowPlaintextNetwork: false
  };

  it('is refused without TLS, naming the flag that allows it',
    async function () {
      const error = await loadTls(plain).then(() => null, (e: Error) => e);
      expect(error?.message).to.include('--tls-cert')
        .and.to.include(PLAINTEXT_FLAG);
      const server = new DispatcherServer({
        ...defaults, host: '0.0.0.0', wsPort: 0, restPort: 0,
        dataDir: join(tmpdir(), 'dispatcher-never-created')
      });
      const start = await server.start().then(() => null, (e: Error) => e);
      expect(start?.message).to.match(/refusing to listen on 0.0.0.0/);
    });

  it('is allowed with the explicit flag, or on loopback', async function () {
    expect(await loadTls({ ...plain, allowPlaintextNetwork: true }))
      .to.equal(null);
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.0.0.2']) {
      expect(await loadTls({ ...plain, host })).to.equal(null);
    }
  });

  it('wants a certificate and a key together', async function () {
    const error = await loadTls({ ...plain, tlsCert: '/x.pem' })
      .then(() => null, (e: Error) => e);
    expect(error?.message).to.match(/go together/);
  });
});
