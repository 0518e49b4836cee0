/**
 * CPU and memory per job: summed over the job's process tree, measured
 * in one batch, failures reported as failures, and nothing left running
 * once stopped.
 */
import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';

import { expect } from 'chai';

import type { Client } from '../../lib/client/client.js';
import {
  UsageSampler,
  type PidStat,
  type UsageSample,
  type UsageSource
} from '../../lib/jobs/usage.js';
import type { QueuedJob } from '../../machines/queue.js';
import { waitUntil } from '../machines/wait-until.js';
import { EventLog, startServer, type TestServer } from '../helpers/server.js';

describe('job CPU and memory sampling', function () {
  let server: TestServer;
  let client: Client;
  let events: EventLog;

  beforeEach(async function () {
    server = await startServer({ usageIntervalMs: 200, graceMs: 500 });
    client = await server.connect();
    events = new EventLog(client);
    await client.subscribe();
  });

  afterEach(async function () {
    await server.stop();
  });

  it('sums CPU over the whole tree: two busy loops use 100 to 200 %',
    async function () {
      if (availableParallelism() < 2) {
        console.log('    skipped: needs 2 cores, this machine has ' +
          availableParallelism());
        this.skip();
      }
      await client.dispatcher({
        action: 'run',
        busy: "sh -c 'yes >/dev/null & yes >/dev/null & wait'"
      });
      let listed: any;
      const deadline = Date.now() + 8000;
      for (;;) {
        const { jobs } = await client.dispatcher({ action: 'list' });
        listed = jobs.no_queue?.busy;
        const cpu = listed?.cpu_percent;
        if (cpu >= 100 && cpu <= 200) break;
        if (Date.now() > deadline) {
          throw new Error(`CPU never in 100-200 %: ${JSON.stringify(listed)}`);
        }
        await delay(100);
      }
      expect(listed.memory_bytes).to.be.above(0);
      expect(listed.pids).to.be.at.least(3);
      expect(listed).to.not.have.property('usage_error');
      const usage = await events.next((args) =>
        args.event === 'usage' && args.process_id === 'busy');
      expect(usage).to.include({ state: 'running', queue: 'no_queue' });
      expect(usage.cpu_percent).to.be.a('number');
      expect(usage.memory_bytes).to.be.above(0);
    });

  it('drops exited pids and finished jobs without errors',
    async function () {
      await client.dispatcher({
        action: 'run',
        short: "sh -c 'sleep 0.4 & wait; sleep 0.6'"
      });
      const sampler = server.server.usage!;
      const pids = () => {
        const sample = sampler.get('short');
        return sample && 'pids' in sample ? sample.pids : [];
      };
      await waitUntil(() => pids().length === 2, 'sh and its first sleep',
        3000, 20);
      const first = pids()[1];
      await waitUntil(() => pids().length === 2 && !pids().includes(first),
        'the first sleep to drop out', 3000, 20);
      await events.finished('short');
      await waitUntil(() => sampler.get('short') === undefined,
        'the finished job to drop out', 3000, 20);
      const failed = events.events.filter((args) => 'usage_error' in args);
      expect(failed).to.deep.equal([]);
    });

  it('leaves no timer or call pending once the server stops',
    async function () {
      const sampler = server.server.usage!;
      expect(sampler.pending).to.equal(true);
      await server.stop();
      expect(sampler.pending).to.equal(false);
      server = await startServer();
    });
});

describe('UsageSampler', function () {
  const job = { id: 'j', queue: 'q' } as QueuedJob;
  const source = (pid: number | null): UsageSource => ({
    running: () => [{ job, pid }]
  });
  const stat = (ctime: number): PidStat => ({
    ctime, elapsed: 1000, memory: 4096, timestamp: Date.now()
  });

  it('reports a failed batch as an error, never as 0', async function () {
    const samples: UsageSample[] = [];
    const sampler = new UsageSampler(source(process.pid), {
      meter: async () => {
        throw new Error('EACCES: permission denied');
      },
      onSample: (_, sample) => samples.push(sample)
    });
    await sampler.sample();
    expect(samples).to.have.length(1);
    expect(samples[0]).to.have.property('error', 'EACCES: permission denied');
    expect(samples[0]).to.not.have.property('cpu');
  });

  it('measures pid by pid when a vanished pid fails the batch',
    async function () {
      const calls: number[][] = [];
      const sampler = new UsageSampler(source(process.pid), {
        meter: async (pids) => {
          calls.push(pids);
          if (pids.length > 1) throw new Error('No matching pid found');
          if (pids[0] !== process.pid) {
            throw new Error('No matching pid found');
          }
          return { [pids[0]]: stat(500) };
        }
      });
      const original = process.pid;
      // Our own tree: this process and its children, if any.
      await sampler.sample();
      const sample = sampler.get('j')!;
      expect(sample).to.not.have.property('error');
      if ('pids' in sample) expect(sample.pids).to.deep.equal([original]);
      expect(calls[0].length).to.be.at.least(1);
    });

  it('waits in stop() for a sample in progress', async function () {
    let release!: () => void;
    let measured = false;
    const sampler = new UsageSampler(source(process.pid), {
      intervalMs: 10,
      meter: async (pids) => {
        await new Promise<void>((resolve) => (release = resolve));
        measured = true;
        return Object.fromEntries(pids.map((pid) => [pid, stat(1)]));
      }
    });
    sampler.start();
    await waitUntil(() => release !== undefined, 'a sample to begin');
    const stopped = sampler.stop();
    setTimeout(() => release(), 20);
    await stopped;
    expect(measured).to.equal(true);
    expect(sampler.pending).to.equal(false);
  });
});
