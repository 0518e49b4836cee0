import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import type { Client } from '../../lib/client/client.js';
import {
  EventLog,
  groupAlive,
  outputOf,
  startServer,
  type TestServer
} from '../helpers/server.js';

describe('jobs over the WebSocket API', function () {
  let server: TestServer;
  let client: Client;
  let events: EventLog;

  beforeEach(async function () {
    server = await startServer({ graceMs: 1000 });
    client = await server.connect();
    events = new EventLog(client);
    await client.subscribe();
  });

  afterEach(async function () {
    await server.stop();
  });

  it('runs a chain in order and stops at the first failure', async function () {
    const marker = join(server.dataDir, 'never');
    await client.dispatcher({
      action: 'run',
      chain: ['echo one', 'sh -c "exit 3"', `touch ${marker}`]
    });
    const log = await events.finished('chain');
    expect(log.outcome).to.equal('failure');
    expect(log.commands.map((c: any) => c.exit_code)).to.deep.equal([0, 3]);
    expect(log.commands[0].output).to.equal('one\n');
    expect(log['return_codes/echo one']).to.equal(0);
    expect(log['echo one']).to.equal('one\n');
    expect(existsSync(marker)).to.equal(false);
  });

  it('keeps order in a serial queue and never overlaps 20 racing runs',
    async function () {
      const clients = await Promise.all(
        Array.from({ length: 20 }, () => server.connect())
      );
      await Promise.all(clients.map((other, i) => other.dispatcher({
        action: 'run',
        queue: 'pkg_queue',
        [`serial-${i}`]: 'sh -c "sleep 0.02"'
      })));
      const queued = (await events.count((e) => e.event === 'queued', 20))
        .map((args) => args.process_id);
      expect(queued).to.have.length(20);
      const logs = [];
      for (const id of queued) logs.push(await events.finished(id));
      const started = events.events
        .filter((args) => args.event === 'started')
        .map((args) => args.process_id);
      expect(started).to.deep.equal(queued);
      for (let i = 1; i < logs.length; i++) {
        const previousEnd = Date.parse(logs[i - 1].commands[0].time_finished);
        const start = Date.parse(logs[i].commands[0].time_started);
        expect(start).to.be.at.least(previousEnd);
      }
    });

  it('runs no_queue jobs side by side', async function () {
    await client.dispatcher({
      action: 'run',
      a: 'sleep 0.5',
      b: 'sleep 0.5',
      c: 'sleep 0.5'
    });
    const { jobs } = await client.dispatcher({ action: 'list' });
    const states = Object.values<any>(jobs.no_queue).map((job) => job.state);
    expect(states).to.deep.equal(['running', 'running', 'running']);
    await Promise.all(['a', 'b', 'c'].map((id) => events.finished(id)));
  });

  it('ends a pending job without ever starting it', async function () {
    const marker = join(server.dataDir, 'started');
    await client.dispatcher({
      action: 'run', queue: 'pkg_queue', blocker: 'sleep 30'
    });
    await client.dispatcher({
      action: 'run', queue: 'pkg_queue', waiting: `touch ${marker}`
    });
    const reply = await client.dispatcher({ action: 'kill', job_id: 'waiting' });
    expect(reply.killed.jobs).to.deep.equal(['waiting']);
    const log = await events.finished('waiting');
    expect(log.outcome).to.equal('killed');
    expect(log.commands).to.deep.equal([]);
    await client.dispatcher({ action: 'kill', job_id: 'blocker' });
    await events.finished('blocker');
    expect(events.of('waiting').map((e) => e.event))
      .to.deep.equal(['queued', 'finished']);
    expect(existsSync(marker)).to.equal(false);
  });

  it('kills every process of the job\'s group', async function () {
    await client.dispatcher({
      action: 'run', tree: "sh -c 'sleep 300 & sleep 300 & wait'"
    });
    const started = await events.next((e) =>
      e.event === 'started' && e.process_id === 'tree');
    const pgid = started.commands[0].pid as number;
    await waitForChildren(pgid, 3);
    await client.dispatcher({ action: 'kill', job_id: 'tree' });
    const log = await events.finished('tree');
    expect(log.outcome).to.equal('killed');
    expect(log.killed.signals).to.deep.equal(['SIGTERM']);
    expect(groupAlive(pgid)).to.equal(false);
  });

  it('reports killed only once a grandchild that ignores SIGTERM is gone',
    async function () {
      await client.dispatcher({
        action: 'run',
        stubborn: `sh -c "(trap '' TERM; echo ready; sleep 300) & wait"`
      });
      const started = await events.next((e) =>
        e.event === 'started' && e.process_id === 'stubborn');
      const pgid = started.commands[0].pid as number;
      // The trap is set once it has said so.
      await events.next((e) => e.event === 'output' &&
        e.process_id === 'stubborn');
      await waitForChildren(pgid, 2);
      const sent = Date.now();
      await client.dispatcher({ action: 'kill', job_id: 'stubborn' });
      const log = await events.finished('stubborn');
      const took = Date.now() - sent;
      expect(groupAlive(pgid)).to.equal(false);
      expect(log.killed.signals).to.deep.equal(['SIGTERM', 'SIGKILL']);
      expect(log.killed.escalated).to.equal(true);
      expect(took).to.be.at.least(1000);
      expect(took).to.be.below(2000);
    });

  it('escalates to SIGKILL at once on a second kill', async function () {
    await client.dispatcher({
      action: 'run', twice: `sh -c "trap '' TERM; echo ready; sleep 300"`
    });
    // The trap is set once it has said so; a SIGTERM before would end it.
    await events.next((e) => e.event === 'output' && e.process_id === 'twice');
    await client.dispatcher({ action: 'kill', job_id: 'twice', grace: 60 });
    await events.next((e) => e.event === 'signal' && e.signal === 'SIGTERM');
    await client.dispatcher({ action: 'kill', job_id: 'twice' });
    // Well under the 60 s grace: the second kill did not wait for it.
    const log = await events.finished('twice', 10000);
    expect(log.killed.signals).to.deep.equal(['SIGTERM', 'SIGKILL']);
  });

  it('fails a job whose program is missing and runs the next one',
    async function () {
      await client.dispatcher({
        action: 'run', queue: 'pkg_queue', missing: 'no-such-program-here'
      });
      await client.dispatcher({
        action: 'run', queue: 'pkg_queue', after: 'echo still running'
      });
      const missing = await events.finished('missing');
      expect(missing.outcome).to.equal('failure');
      expect(missing.commands[0].error)
        .to.equal('program not found: no-such-program-here');
      expect(missing['return_codes/no-such-program-here']).to.equal(127);
      const after = await events.finished('after');
      expect(after.outcome).to.equal('success');
    });

  it('gives commands an empty stdin, so cat ends at once', async function () {
    await client.dispatcher({ action: 'run', reader: 'cat' });
    const log = await events.finished('reader', 3000);
    expect(log.outcome).to.equal('success');
    expect(log.commands[0].output).to.equal('');
  });

  it('delivers seq 1 300000 byte for byte through output events',
    async function () {
      await client.dispatcher({ action: 'run', numbers: 'seq 1 300000' });
      const log = await events.finished('numbers');
      // Text withheld from a subscriber that fell behind is paged.
      const { texts, missed } = await outputOf(client, 'numbers',
        events.of('numbers'));
      expect(missed).to.equal(0);
      const streamed = texts[0];
      const expected = execFileSync('seq', ['1', '300000'], {
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024
      });
      expect(streamed.length).to.equal(expected.length);
      expect(streamed === expected).to.equal(true);
      // The log keeps 1 MiB: the head, a marker, and the tail.
      const kept = log.commands[0];
      expect(kept.output_bytes).to.equal(expected.length);
      expect(kept.output_omitted_bytes)
        .to.equal(expected.length - 1024 * 1024);
      expect(kept.output).to.match(/^1\n2\n3\n/);
      expect(kept.output).to.include(
        `[... ${expected.length - 1024 * 1024} bytes of output omitted ...]`
      );
      expect(kept.output.endsWith('299999\n300000\n')).to.equal(true);
    });

  it('sends queued, started and exactly one finished event per job',
    async function () {
      await client.dispatcher({ action: 'run', once: 'echo hello' });
      await events.finished('once');
      // Give stray duplicates a chance to arrive before counting.
      await client.dispatcher({ action: 'list' });
      const kinds = events.of('once').map((e) => e.event);
      expect(kinds[0]).to.equal('queued');
      expect(kinds[1]).to.equal('started');
      expect(kinds.filter((k) => k === 'finished')).to.have.length(1);
      expect(kinds.at(-1)).to.equal('finished');
    });

  it('refuses a duplicate id of a live job and accepts it once finished',
    async function () {
      await client.dispatcher({ action: 'run', dup: 'sleep 30' });
      const error = await client.dispatcher({ action: 'run', dup: 'true' })
        .catch((e) => e);
      expect(error.code).to.equal(409);
      expect(error.detail).to.equal("job id 'dup' is already live in no_queue");
      await client.dispatcher({ action: 'kill', job_id: 'dup' });
      await events.finished('dup');
      const again = await client.dispatcher({ action: 'run', dup: 'true' });
      expect(again.started).to.deep.equal(['dup']);
    });

  it('reports unknown and finished ids in a kill reply', async function () {
    await client.dispatcher({ action: 'run', quick: 'true' });
    await events.finished('quick');
    const reply = await client.dispatcher({
      action: 'kill', job_id: ['quick', 'ghost']
    });
    expect(reply.killed).to.deep.equal({
      jobs: [], finished: ['quick'], unknown: ['ghost']
    });
  });

  it('lists queue positions for serial queues', async function () {
    await client.dispatcher({
      action: 'run', queue: 'pkg_queue', first: 'sleep 30', second: 'true'
    });
    const { jobs, queues } = await client.dispatcher({ action: 'list' });
    expect(jobs.pkg_queue.first).to.include({
      state: 'running', queue_position: '0'
    });
    expect(jobs.pkg_queue.second).to.include({
      state: 'pending', queue_position: '1'
    });
    expect(jobs.pkg_queue.first.commands).to.deep.equal(['sleep 30']);
    expect(queues.pkg_queue).to.deep.equal({
      limit: 1, running: 1, pending: 1, paused: false
    });
  });

  it('pages through a long queue with limit and after', async function () {
    const args: Record<string, unknown> = {
      action: 'run', queue: 'pkg_queue'
    };
    for (let i = 0; i < 250; i++) args[`page-${i}`] = 'sleep 30';
    await client.dispatcher(args);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await client.dispatcher({
        action: 'list', queue: 'pkg_queue', limit: 100,
        ...(after && { after })
      });
      const ids = Object.keys(page.jobs.pkg_queue);
      expect(ids.length).to.be.at.most(100);
      seen.push(...ids);
      if (page.next === null) break;
      expect(page.next).to.equal(ids.at(-1));
      after = page.next;
    }
    expect(seen).to.deep.equal(
      Array.from({ length: 250 }, (_, i) => `page-${i}`)
    );
    const last = await client.dispatcher({
      action: 'list', queue: 'pkg_queue', limit: 1, after: 'page-248'
    });
    expect(last.jobs.pkg_queue['page-249'].queue_position).to.equal('249');
    const gone = await client.dispatcher({
      action: 'list', after: 'nobody'
    }).catch((e) => e);
    expect(gone.code).to.equal(400);
  });
});

/** Waits until the group has at least `count` processes. */
async function waitForChildren(pgid: number, count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const listed = execFileSync('ps', ['-o', 'pid=', '--sid', String(pgid)], {
      encoding: 'utf8'
    }).trim().split('\n').filter(Boolean);
    if (listed.length >= count) return;
    if (Date.now() > deadline) throw new Error('processes did not start');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
