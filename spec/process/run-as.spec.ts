/**
 * Jobs run as a less powerful user, per server or per queue, with a
 * clean environment that carries none of the server's secrets.
 */
import { existsSync } from 'node:fs';

import { expect } from 'chai';

import type { Client } from '../../lib/client/client.js';
import { CommandProcess, JOB_PATH } from '../../lib/process/index.js';
import { lookupUser } from '../../lib/process/run-as.js';
import {
  captureLog,
  EventLog,
  startServer,
  type TestServer
} from '../helpers/server.js';

const SECRET = 'DISPATCHER_SPEC_SECRET';

/** Runs one command as a job and resolves with its output. */
async function output(
  client: Client,
  events: EventLog,
  id: string,
  command: string,
  queue = 'no_queue'
): Promise<string> {
  await client.dispatcher({ action: 'run', queue, [id]: command });
  const log = await events.finished(id);
  expect(log.outcome, `${id}: ${JSON.stringify(log.commands)}`)
    .to.equal('success');
  return log.commands[0].output;
}

function requireRoot(context: Mocha.Context): void {
  if (process.getuid?.() !== 0) {
    console.log('    skipped: running jobs as another user needs root; ' +
      `these specs run as uid ${process.getuid?.()}`);
    context.skip();
  }
}

describe('jobs run as another user', function () {
  let server: TestServer;
  let client: Client;
  let events: EventLog;

  before(async function () {
    requireRoot(this);
    process.env[SECRET] = 'hunter2';
    process.env.SPEC_COPIED = 'copied';
    server = await startServer({
      runAs: 'nobody',
      queueRunAs: { iocage_queue: 'root' },
      jobCwd: '/',
      jobEnv: ['EXTRA=given', 'SPEC_COPIED', 'SPEC_NOT_SET']
    });
    client = await server.connect();
    events = new EventLog(client);
    await client.subscribe();
  });

  after(async function () {
    delete process.env[SECRET];
    delete process.env.SPEC_COPIED;
    await server?.stop();
  });

  it('runs id -u as nobody\'s uid with --run-as nobody', async function () {
    const nobody = lookupUser('nobody');
    expect(await output(client, events, 'uid', 'id -u'))
      .to.equal(`${nobody.uid}\n`);
    expect(await output(client, events, 'groups', 'id -G'))
      .to.equal(`${nobody.groups.join(' ')}\n`);
  });

  it('lets a queue run as its own user', async function () {
    expect(await output(client, events, 'root-q', 'id -u', 'iocage_queue'))
      .to.equal('0\n');
  });

  it('gives jobs a clean environment without the server\'s secrets',
    async function () {
      const env = await output(client, events, 'env', 'env');
      const vars = Object.fromEntries(env.trim().split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')),
          line.slice(line.indexOf('=') + 1)]));
      expect(vars).to.not.have.property(SECRET);
      expect(env).to.not.include('hunter2');
      expect(vars).to.include({
        PATH: JOB_PATH,
        USER: 'nobody',
        LOGNAME: 'nobody',
        HOME: lookupUser('nobody').home,
        DISPATCHER_JOB_ID: 'env',
        DISPATCHER_QUEUE: 'no_queue',
        EXTRA: 'given',
        SPEC_COPIED: 'copied'
      });
      expect(vars).to.not.have.property('SPEC_NOT_SET');
    });

  it('kills the tree of a job that runs as another user', async function () {
    await client.dispatcher({ action: 'run', sleeper: 'sleep 30' });
    await events.next((e) => e.event === 'started' &&
      e.process_id === 'sleeper');
    await client.dispatcher({ action: 'kill', job_id: 'sleeper' });
    expect((await events.finished('sleeper')).outcome).to.equal('killed');
  });

  it('gives a user its supplementary groups through setpriv',
    async function () {
      if (!existsSync('/usr/bin/setpriv')) {
        console.log('    skipped: setpriv (util-linux) is not installed');
        this.skip();
      }
      const child = new CommandProcess('id -G', {
        graceMs: 100,
        maxOutputBytes: 4096,
        cwd: '/',
        user: {
          user: 'nobody', uid: 65534, gid: 65534, groups: [65534, 100],
          home: '/', setpriv: '/usr/bin/setpriv'
        }
      });
      child.start();
      const result = await child.done;
      expect(result.exitCode).to.equal(0);
      expect(result.output.text()).to.equal('65534 100\n');
    });
});

describe('the user jobs run as, at start', function () {
  it('warns when jobs would run as root', async function () {
    requireRoot(this);
    const { log, lines } = captureLog();
    const server = await startServer({
      queueRunAs: { pkg_queue: 'nobody' }
    }, { log });
    await server.stop();
    const warning = lines.find((line) =>
      line.msg === 'jobs of these queues run as root; see --run-as');
    expect(warning?.queues).to.deep.equal(['no_queue', 'iocage_queue']);
  });

  it('refuses an unknown user or queue', async function () {
    const unknownUser = await startServer({ runAs: 'no-such-user-here' })
      .then(() => null, (e: Error) => e);
    expect(unknownUser?.message).to.equal(
      '--run-as no-such-user-here: no such user');
    const unknownQueue = await startServer({
      queueRunAs: { ports: 'nobody' }
    }).then(() => null, (e: Error) => e);
    expect(unknownQueue?.message).to.match(/no queue 'ports'/);
  });
});
