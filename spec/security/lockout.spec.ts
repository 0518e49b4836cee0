/**
 * Failed logins lock an address out, over both transports, and the
 * lockout ends on its own. Every login leaves an audit line.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import WebSocket from 'ws';

import { UserStore } from '../../lib/auth/users.js';
import { addressKey } from '../../lib/security/address.js';
import { LoginThrottle } from '../../lib/security/throttle.js';
import { waitFor } from '../process/wait.js';
import {
  basic,
  captureLog,
  rest,
  startServer,
  type TestServer
} from '../helpers/server.js';
import { ask, closeOf, tryUpgrade, type Refusal } from './helpers.js';

async function open(server: TestServer): Promise<WebSocket> {
  const socket = await tryUpgrade(server.wsUrl);
  if (!(socket instanceof WebSocket)) {
    throw new Error(`upgrade refused: ${JSON.stringify(socket)}`);
  }
  return socket;
}

describe('login throttling', function () {
  describe('the throttle', function () {
    it('locks an address at the limit and frees it after the lockout',
      function () {
        let now = 1000;
        const throttle = new LoginThrottle({
          limit: 3, windowMs: 100, lockoutMs: 500, now: () => now
        });
        expect(throttle.fail('10.0.0.1')).to.deep.equal(
          { locked: false, failures: 1 });
        throttle.fail('10.0.0.1');
        expect(throttle.fail('10.0.0.1').locked).to.equal(true);
        expect(throttle.lockedFor('10.0.0.1')).to.equal(500);
        expect(throttle.lockedFor('10.0.0.2')).to.equal(0);
        now += 500;
        expect(throttle.lockedFor('10.0.0.1')).to.equal(0);
      });

    it('forgets failures older than the window', function () {
      let now = 0;
      const throttle = new LoginThrottle({
        limit: 2, windowMs: 100, lockoutMs: 500, now: () => now
      });
      throttle.fail('10.0.0.1');
      now += 101;
      expect(throttle.fail('10.0.0.1').locked).to.equal(false);
    });

    it('counts an IPv6 /64 as one address, and mapped IPv4 as IPv4',
      function () {
        expect(addressKey('2001:db8:1:2:aaaa::1'))
          .to.equal(addressKey('2001:db8:1:2:bbbb::9'));
        expect(addressKey('2001:db8:1:3::1'))
          .to.not.equal(addressKey('2001:db8:1:2::1'));
        expect(addressKey('::ffff:10.1.2.3')).to.equal('10.1.2.3');
      });

    it('tracks a bounded number of addresses', function () {
      const throttle = new LoginThrottle({
        limit: 5, windowMs: 60000, lockoutMs: 60000, maxAddresses: 100
      });
      for (let i = 0; i < 1000; i++) throttle.fail(`10.0.${i >> 8}.${i & 255}`);
      expect(throttle.size).to.be.at.most(100);
    });
  });

  describe('over the wire', function () {
    let dataDir: string;
    let server: TestServer;
    let lines: any[];

    beforeEach(async function () {
      dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-spec-'));
      const { store } = await UserStore.open(dataDir);
      await store.add('viewer', 'look-only', 'read');
      const capture = captureLog();
      lines = capture.lines;
      server = await startServer({
        dataDir, jobCwd: dataDir, lockoutMs: 1500
      }, { log: capture.log });
    });

    afterEach(async function () {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('locks out after 5 failures, closes the WebSocket, and recovers',
      async function () {
        const socket = await open(server);
        const wrong = { username: 'admin', password: 'guess' };
        for (let i = 0; i < 4; i++) {
          expect((await ask(socket, 'auth', wrong)).args.code).to.equal(401);
        }
        const closed = closeOf(socket);
        const fifth = await ask(socket, 'auth', wrong);
        expect(fifth.args).to.include({ code: 403, error: 'locked_out' });
        expect(await closed).to.deep.include({ code: 1008 });

        // The right password is refused too, on every path.
        const refused = await tryUpgrade(server.wsUrl) as Refusal;
        expect(refused.status).to.equal(403);
        expect(refused.body.args.error).to.equal('locked_out');
        const right = basic('admin', server.adminPassword);
        const viaRest = await rest(`${server.restUrl}/rpc/query`, {}, right);
        expect(viaRest.status).to.equal(403);
        expect(viaRest.body.args.detail).to.match(/try again in \d+ s/);

        await waitFor(async () => (await rest(`${server.restUrl}/rpc/query`,
          {}, right)).status === 200, 5000, 'the lockout to end');
        const again = await server.connect();
        expect(await again.request('rpc', 'query', {})).to.have.property(
          'rpc/dispatcher');
      });

    it('locks an address out while a session it opened keeps working',
      async function () {
        const admin = await server.connect();
        for (let i = 0; i < 5; i++) {
          await rest(`${server.restUrl}/rpc/query`, {},
            basic('viewer', 'wrong'));
        }
        const locked = await rest(`${server.restUrl}/rpc/identify`, {});
        expect(locked.status).to.equal(403);
        expect(await admin.dispatcher({ action: 'list' }))
          .to.have.property('jobs');
      });

    it('counts failed tokens and Basic logins across transports',
      async function () {
        const socket = await open(server);
        const statuses = [
          (await rest(`${server.restUrl}/rpc/query`, {},
            { Authorization: 'Bearer nope' })).status,
          (await rest(`${server.restUrl}/rpc/query`, {},
            basic('x', 'y'))).status,
          (await ask(socket, 'auth_token', { token: 'A'.repeat(43) }))
            .args.code,
          (await ask(socket, 'auth', { username: 'nobody', password: 'z' }))
            .args.code,
          (await rest(`${server.restUrl}/rpc/auth`,
            { username: 'admin', password: 'q' })).status
        ];
        expect(statuses).to.deep.equal([401, 401, 401, 401, 403]);
        const closed = closeOf(socket);
        const right = await ask(socket, 'auth', {
          username: 'admin', password: server.adminPassword
        });
        expect(right.args.error).to.equal('locked_out');
        expect((await closed).code).to.equal(1008);
      });

    it('writes an audit line for every login, run and kill',
      async function () {
        const client = await server.connect();
        await client.dispatcher({ action: 'run', audited: 'true' });
        await client.dispatcher({ action: 'kill', job_id: 'audited' });
        await rest(`${server.restUrl}/rpc/auth`,
          { username: 'ghost', password: 'x' });
        await waitFor(() => lines.filter((l) => l.audit).length >= 4, 2000,
          'the audit lines');
        const audit = lines.filter((line) => line.audit);
        const logins = audit.filter((line) => line.msg === 'login');
        expect(logins.map((l) => [l.user, l.ok])).to.deep.include.members([
          ['admin', true], ['ghost', false]
        ]);
        for (const line of audit) {
          expect(line.address).to.equal('127.0.0.1');
          expect(JSON.stringify(line)).to.not.include(server.adminPassword);
        }
        const run = audit.find((line) => line.msg === 'run');
        expect(run).to.deep.include({ user: 'admin', code: 200 });
        expect(run.jobs).to.deep.equal([{ id: 'audited', commands: ['true'] }]);
        const kill = audit.find((line) => line.msg === 'kill');
        expect(kill).to.deep.include({ user: 'admin', jobIds: ['audited'] });
      });
  });
});
