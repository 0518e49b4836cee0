import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { Client } from '../../lib/client/client.js';
import {
  EventLog,
  groupAlive,
  startServer
} from '../helpers/server.js';

const bin = fileURLToPath(new URL('../../../bin/dispatcher.js', import.meta.url));

describe('restarts and crashes', function () {
  let dataDir: string;

  beforeEach(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-restart-'));
  });

  afterEach(async function () {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps pending jobs across a clean restart, in order', async function () {
    const first = await startServer({ dataDir, jobCwd: dataDir, graceMs: 500 });
    const client = await first.connect();
    await client.dispatcher({
      action: 'run', queue: 'pkg_queue', blocker: 'sleep 30'
    });
    const ids = Array.from({ length: 5 }, (_, i) => `kept-${i}`);
    for (const id of ids) {
      await client.dispatcher({ action: 'run', queue: 'pkg_queue', [id]: 'true' });
    }
    await first.stop();

    const second = await startServer({ dataDir, jobCwd: dataDir });
    try {
      const again = await second.connect();
      const history = await finishedJobs(again, ids.length + 1);
      const blocker = history.get('blocker');
      expect(blocker.outcome).to.equal('killed');
      expect(blocker.killed.by).to.equal('shutdown');
      const kept = ids.map((id) => history.get(id));
      expect(kept.map((job) => job.outcome))
        .to.deep.equal(ids.map(() => 'success'));
      const starts = kept.map((job) => Date.parse(job.commands[0].time_started));
      expect([...starts].sort((a, b) => a - b)).to.deep.equal(starts);
      expect(second.server.recovery!.crashed).to.equal(false);
      expect(second.server.recovery!.requeued).to.equal(5);
    } finally {
      await second.stop();
    }
  });

  it('after a SIGKILL, ends the running job as interrupted, kills its ' +
    'tree and requeues the rest in order', async function () {
    const ports = await freePorts(2);
    const first = await serve(dataDir, ports);
    const password = (await readFile(join(dataDir, 'admin-password'), 'utf8'))
      .trim();
    const url = `ws://127.0.0.1:${ports[0]}`;
    const client = await Client.connect(url, { user: 'admin', password });
    const events = new EventLog(client);
    await client.subscribe();
    await client.dispatcher({
      action: 'run', queue: 'pkg_queue',
      victim: ['echo first', "sh -c 'sleep 300 & sleep 300 & wait'"]
    });
    await client.dispatcher({
      action: 'run', queue: 'pkg_queue', second: 'echo two'
    });
    await client.dispatcher({
      action: 'run', queue: 'pkg_queue', third: 'echo three'
    });
    const second = await events.next((e) =>
      e.event === 'command' && e.process_id === 'victim');
    const pgid = second.pid as number;
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    await client.close();
    expect(groupAlive(pgid)).to.equal(true);

    const restarted = Date.now();
    const again = await serve(dataDir, ports);
    try {
      while (groupAlive(pgid)) {
        expect(Date.now() - restarted).to.be.below(5000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const client2 = await Client.connect(url, { user: 'admin', password });
      const byId = await finishedJobs(client2, 3);
      const victim = byId.get('victim');
      expect(victim.outcome).to.equal('interrupted');
      expect(victim.commands.map((c: any) => [c.exit_code, c.error]))
        .to.deep.equal([
          [0, null],
          [null, 'interrupted: the server stopped while this command ran']
        ]);
      expect(byId.get('second').outcome).to.equal('success');
      expect(byId.get('third').outcome).to.equal('success');
      expect(Date.parse(byId.get('third').time_started)).to.be.at.least(
        Date.parse(byId.get('second').time_finished));
      await client2.close();
    } finally {
      again.kill('SIGTERM');
      await new Promise((resolve) => again.once('exit', resolve));
    }
  });
  it('numbers events on from the last one after a clean restart',
    async function () {
      const first = await startServer({ dataDir, jobCwd: dataDir });
      const client = await first.connect();
      const events = new EventLog(client);
      await client.subscribe();
      await client.dispatcher({ action: 'run', before: 'true' });
      const last = (await events.finished('before')).seq as number;
      await first.stop();

      const second = await startServer({ dataDir, jobCwd: dataDir });
      try {
        const again = await second.connect();
        const after = new EventLog(again);
        await again.subscribe();
        await again.dispatcher({ action: 'run', after: 'true' });
        await after.finished('after');
        expect(after.events[0].seq).to.equal(last + 1);
      } finally {
        await second.stop();
      }
    });

  it('after a SIGKILL, numbers events above every number sent before',
    async function () {
      const ports = await freePorts(2);
      const first = await serve(dataDir, ports);
      const password = (await readFile(join(dataDir, 'admin-password'),
        'utf8')).trim();
      const url = `ws://127.0.0.1:${ports[0]}`;
      const client = await Client.connect(url, { user: 'admin', password });
      const events = new EventLog(client);
      await client.subscribe();
      await client.dispatcher({
        action: 'run', queue: 'pkg_queue', blocker: 'sleep 30'
      });
      // More events in one batch than one write of the store reserves.
      const jobs = Object.fromEntries(
        Array.from({ length: 1200 }, (_, i) => [`waiting-${i}`, 'true']));
      await client.dispatcher({ action: 'run', queue: 'pkg_queue', ...jobs });
      await events.count((args) => args.event === 'queued', 1201);
      const sent = Math.max(...events.events.map((args) => args.seq));
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      await client.close();

      const again = await serve(dataDir, ports);
      try {
        const client2 = await Client.connect(url, { user: 'admin', password });
        const after = new EventLog(client2);
        await client2.subscribe();
        await client2.dispatcher({ action: 'run', later: 'true' });
        await after.finished('later');
        expect(Math.min(...after.events.map((args) => args.seq)))
          .to.be.above(sent);
        await client2.close();
      } finally {
        again.kill('SIGTERM');
        await new Promise((resolve) => again.once('exit', resolve));
      }
    });
});

describe('the data directory', function () {
  it('is refused to a second server while the first runs', async function () {
    const dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-lock-'));
    const first = await startServer({ dataDir, jobCwd: dataDir });
    try {
      const error = await startServer({ dataDir, jobCwd: dataDir })
        .catch((e) => e);
      expect(error.message).to.match(
        /another dispatcher server \(pid \d+\) is using/);
      const client = await first.connect();
      expect(await client.dispatcher({ action: 'list' }))
        .to.have.property('jobs');
    } finally {
      await first.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** Waits until `count` jobs have finished; returns them by id. */
async function finishedJobs(
  client: Client,
  count: number
): Promise<Map<string, any>> {
  const deadline = Date.now() + 10000;
  for (;;) {
    const { finished } = await client.dispatcher({
      action: 'list', finished: true
    });
    if (finished.length >= count) {
      return new Map(finished.map((job: any) => [job.process_id, job]));
    }
    if (Date.now() > deadline) throw new Error('jobs did not finish');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts the real server binary and waits until it listens. */
async function serve(dataDir: string, ports: number[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [
    bin, 'serve', '--data-dir', dataDir, '--ws-port', String(ports[0]),
    '--rest-port', String(ports[1]), '--grace', '1'
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 10000;
  while (!output.includes('"msg":"listening"')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return child;
}

async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    ports.push(await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    }));
  }
  return ports;
}
