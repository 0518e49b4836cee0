/**
 * Browser attacks: a page on another origin, or a name rebound to the
 * server's address, gets nothing from either port, while clients that
 * are not browsers (no Origin) work as before.
 */
import { expect } from 'chai';
import WebSocket from 'ws';

import { basic, startServer, type TestServer } from '../helpers/server.js';
import { ask, rawRequest, tryUpgrade, type Refusal } from './helpers.js';

const ALLOWED = 'https://ops.example.org';

describe('Origin and Host checks', function () {
  let server: TestServer;
  let auth: Record<string, string>;

  before(async function () {
    server = await startServer({
      allowedOrigins: [ALLOWED],
      allowedHosts: ['dispatcher.example.org']
    });
    auth = basic('admin', server.adminPassword);
  });

  after(async function () {
    await server.stop();
  });

  function runBody(id: string): string {
    return JSON.stringify({ action: 'run', [id]: 'true' });
  }

  function noJobs(): void {
    for (const sizes of server.server.dispatcher.queueSizes().values()) {
      expect(sizes).to.deep.include({ running: 0, pending: 0 });
    }
  }

  it('refuses a WebSocket upgrade from a foreign page', async function () {
    for (const origin of ['https://evil.example', 'null',
      'http://127.0.0.1:1', 'https://ops.example.org.evil.example']) {
      const reply = await tryUpgrade(server.wsUrl, { origin }) as Refusal;
      expect(reply.status, origin).to.equal(403);
      expect(reply.body.args).to.include({ code: 403,
        error: 'foreign_origin' });
    }
  });

  it('refuses REST requests from a foreign page, even with a password',
    async function () {
      const foreign: Array<Record<string, string>> = [
        { Origin: 'https://evil.example' },
        { Origin: 'null' },
        { 'Sec-Fetch-Site': 'cross-site' },
        { 'Sec-Fetch-Site': 'same-site' }
      ];
      for (const headers of foreign) {
        const reply = await rawRequest(`${server.restUrl}/rpc/dispatcher`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'text/plain', ...headers },
          body: runBody('csrf')
        });
        expect(reply.status, JSON.stringify(headers)).to.equal(403);
        expect(reply.body.args.error).to.equal('foreign_origin');
        expect(reply.headers['access-control-allow-origin'])
          .to.equal(undefined);
      }
      noJobs();
    });

  it('refuses a Host that is not one of its names (DNS rebinding)',
    async function () {
      const port = server.server.restPort;
      const rebound = await rawRequest(`${server.restUrl}/rpc/dispatcher`, {
        headers: { ...auth, Host: `rebind.evil.example:${port}` },
        body: runBody('rebound')
      });
      expect(rebound.status).to.equal(403);
      expect(rebound.body.args.error).to.equal('foreign_host');
      const upgrade = await tryUpgrade(server.wsUrl, {
        headers: { Host: 'rebind.evil.example' }
      }) as Refusal;
      expect(upgrade.status).to.equal(403);
      expect(upgrade.body.args.error).to.equal('foreign_host');
      noJobs();
    });

  it('answers to its own names', async function () {
    const port = server.server.restPort;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`,
      'dispatcher.example.org', `[::1]:${port}`]) {
      const reply = await rawRequest(`${server.restUrl}/rpc/identify`, {
        headers: { Host: host }
      });
      expect(reply.status, host).to.equal(200);
    }
  });

  it('serves clients that send no Origin, as the command line does',
    async function () {
      const client = await server.connect();
      expect(await client.dispatcher({ action: 'list' }))
        .to.have.property('jobs');
      const reply = await rawRequest(`${server.restUrl}/rpc/query`, {
        headers: auth
      });
      expect(reply.status).to.equal(200);
    });

  it('lets an allowed origin in, with CORS but no ambient credentials',
    async function () {
      const socket = await tryUpgrade(server.wsUrl, { origin: ALLOWED });
      expect(socket).to.be.instanceOf(WebSocket);
      const reply = await ask(socket as WebSocket, 'identify');
      expect(reply.name).to.equal('response');
      (socket as WebSocket).close();

      const preflight = await rawRequest(`${server.restUrl}/rpc/dispatcher`, {
        method: 'OPTIONS',
        headers: {
          Origin: ALLOWED,
          'Access-Control-Request-Method': 'PUT',
          'Access-Control-Request-Headers': 'authorization, content-type'
        }
      });
      expect(preflight.status).to.equal(204);
      expect(preflight.headers).to.include({
        'access-control-allow-origin': ALLOWED
      });
      expect(preflight.headers).to.not.have.property(
        'access-control-allow-credentials');

      const list = await rawRequest(`${server.restUrl}/rpc/dispatcher`, {
        headers: { ...auth, Origin: ALLOWED },
        body: JSON.stringify({ action: 'list' })
      });
      expect(list.status).to.equal(200);
      expect(list.headers['access-control-allow-origin']).to.equal(ALLOWED);
    });
});
