import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import type { Client } from '../../lib/client/client.js';
import { parseTime } from '../../lib/rpc/history.js';
import { capMarker, OutputFiles } from '../../lib/store/output-files.js';
import { prune } from '../../lib/store/retention.js';
import { SqliteStore } from '../../lib/store/sqlite-store.js';
import {
  EventLog,
  groupAlive,
  RawSocket,
  startServer,
  type TestServer
} from '../helpers/server.js';

describe('job history and output on disk', function () {
  let server: TestServer;
  let client: Client;
  let events: EventLog;

  beforeEach(async function () {
    server = await startServer({ outputCapBytes: 64 * 1024, graceMs: 500 });
    client = await server.connect();
    events = new EventLog(client);
    await client.subscribe();
  });

  afterEach(async function () {
    await server.stop();
  });

  /** Reads every page of a command's output with `get`. */
  async function readAll(id: string, command: number, length: number) {
    let offset = 0;
    let text = '';
    for (;;) {
      const { output } = await client.dispatcher({
        action: 'get', job_id: id, command, offset, length
      });
      text += output.text;
      offset = output.next_offset;
      if (output.eof) return { text, total: output.total_bytes };
    }
  }

  it('pages a 5 MB output exactly with get', async function () {
    const big = await startServer();
    try {
      const bigClient = await big.connect();
      const watch = new EventLog(bigClient);
      await bigClient.subscribe();
      await bigClient.dispatcher({ action: 'run', seq: 'seq 1 750000' });
      await watch.finished('seq');
      client = bigClient;
      const expected = execFileSync('seq', ['1', '750000'], {
        encoding: 'utf8', maxBuffer: 16 * 1024 * 1024
      });
      expect(expected.length).to.be.above(5 * 1000 * 1000);
      // Wait until the file is flushed: its size is recorded on finish.
      const { job } = await bigClient.dispatcher({ action: 'get', job_id: 'seq' });
      expect(job.commands[0].output_bytes).to.equal(expected.length);
      let read = await readAll('seq', 0, 1000 * 1000 + 7);
      for (let i = 0; read.total < expected.length && i < 100; i++) {
        read = await readAll('seq', 0, 1000 * 1000 + 7);
      }
      expect(read.text.length).to.equal(expected.length);
      expect(read.text === expected).to.equal(true);
    } finally {
      await big.stop();
    }
  });

  it('never splits a character between two pages', async function () {
    await client.dispatcher({
      action: 'run', utf: `printf '%s' 'ééééé€€€€'`
    });
    await events.finished('utf');
    const expected = 'ééééé€€€€';
    // Pages of 1 to 4 bytes end inside characters of 2 and 3 bytes.
    for (let length = 1; length <= 4; length++) {
      let read = await readAll('utf', 0, length);
      for (let i = 0; read.text !== expected && i < 50; i++) {
        read = await readAll('utf', 0, length);
      }
      expect(read.text, `pages of ${length} bytes`).to.equal(expected);
    }
  });

  it('cuts output past the per-job cap with a marker', async function () {
    await client.dispatcher({
      action: 'run', chatty: ['seq 1 10000', 'seq 1 100000']
    });
    await events.finished('chatty');
    const { job } = await client.dispatcher({ action: 'get', job_id: 'chatty' });
    expect(job.output_truncated).to.equal(true);
    const first = (await readAll('chatty', 0, 1 << 20)).text;
    const second = (await readAll('chatty', 1, 1 << 20)).text;
    const firstExpected = execFileSync('seq', ['1', '10000'], {
      encoding: 'utf8'
    });
    expect(first).to.equal(firstExpected);
    const room = 64 * 1024 - firstExpected.length;
    expect(second.endsWith(capMarker(64 * 1024))).to.equal(true);
    expect(second.length).to.equal(room + capMarker(64 * 1024).length);
  });

  it('lists finished jobs newest first, with a cursor', async function () {
    for (const id of ['h1', 'h2', 'h3']) {
      await client.dispatcher({ action: 'run', [id]: `echo ${id}` });
      await events.finished(id);
    }
    const first = await client.dispatcher({
      action: 'list', finished: true, finished_limit: 2
    });
    expect(first.finished.map((j: any) => j.process_id))
      .to.deep.equal(['h3', 'h2']);
    const next = await client.dispatcher({
      action: 'list', finished: true, finished_limit: 2,
      finished_before: first.finished_next
    });
    expect(next.finished.map((j: any) => j.process_id)).to.deep.equal(['h1']);
    expect(next.finished_next).to.equal(null);
    expect(next.finished[0]).to.include({
      outcome: 'success', submitted_by: 'admin', submitted_from: '127.0.0.1'
    });
  });

  it('records 10 000 jobs of one request in order', async function () {
    const args: Record<string, unknown> = { action: 'run', queue: 'pkg_queue' };
    args.front = 'sleep 30';
    for (let i = 0; i < 10000; i++) args[`bulk-${i}`] = 'true';
    await client.dispatcher(args);
    const store = new SqliteStore(server.dataDir);
    try {
      const unfinished = store.unfinished();
      expect(unfinished.map((job) => job.id)).to.deep.equal(
        ['front', ...Array.from({ length: 10000 }, (_, i) => `bulk-${i}`)]);
    } finally {
      store.close();
    }
  });

  it('reads the dispatcher logs in every time format', async function () {
    await client.dispatcher({ action: 'run', logged: 'true' });
    await events.finished('logged');
    const now = Date.now();
    const formats: Array<[string, unknown, unknown]> = [
      ['time_t_seconds', (now - 60000) / 1000, now / 1000 + 1],
      ['epoch_mseconds', now - 60000, now + 1000],
      ['relative_second', -60, 1],
      ['relative_minute', -1, 0.1],
      ['relative_hour', '-1', '0.01'],
      ['relative_day', -1, 0.001],
      ['relative_month', -1, 0.0001],
      ['iso8601', new Date(now - 60000).toISOString(),
        new Date(now + 1000).toISOString()]
    ];
    for (const [format, start, end] of formats) {
      const reply = await client.request('rpc', 'logs', {
        action: 'read_logs', logs: 'dispatcher', time_format: format,
        start_time: start, end_time: end
      });
      const lines = Object.values<any>(reply.dispatcher);
      expect(lines.map((line) => line.process_id), format)
        .to.include('logged');
    }
    const old = await client.request('rpc', 'logs', {
      action: 'read_logs', time_format: 'relative_day',
      start_time: -3, end_time: -2
    });
    expect(old).to.deep.equal({ dispatcher: {}, 'events-dispatcher': {} });
    const byDefault = await client.request('sysadm', 'logs', {
      action: 'read_logs'
    });
    expect(Object.keys(byDefault['events-dispatcher']).length)
      .to.be.at.least(3);
    const bad = await client.request('rpc', 'logs', {
      action: 'read_logs', time_format: 'fortnights', start_time: 1
    }).catch((e) => e);
    expect(bad.code).to.equal(400);
    expect(bad.detail).to.match(/time_format 'fortnights' is not one of/);
  });

  it('turns each time format into the right instant', function () {
    const now = 1_700_000_000_000;
    expect(parseTime(1_700_000_000, 'time_t_seconds', now, 'x')).to.equal(now);
    expect(parseTime('1700000000000', 'epoch_mseconds', now, 'x'))
      .to.equal(now);
    expect(parseTime(-3600, 'relative_second', now, 'x'))
      .to.equal(now - 3600 * 1000);
    expect(parseTime(-2, 'relative_day', now, 'x'))
      .to.equal(now - 2 * 86400 * 1000);
  });

  it('replays exactly the events a reconnecting subscriber missed',
    async function () {
      await client.dispatcher({ action: 'run', before: 'true' });
      const last = (await events.finished('before')).seq as number;
      const socket = await RawSocket.open(server.wsUrl);
      socket.send({ namespace: 'rpc', name: 'auth', id: 'a', args: {
        username: 'admin', password: server.adminPassword } });
      await socket.reply('a');
      await client.dispatcher({ action: 'run', missed: 'echo gone' });
      await events.finished('missed');
      const missed = events.events.filter((e) => e.seq > last);
      socket.send({ namespace: 'events', name: 'subscribe', id: 's',
        args: { events: ['dispatcher'], since: last } });
      const reply = await socket.reply('s');
      expect(reply.args).to.include({ replayed: missed.length, missed: false });
      const replayed = socket.messages
        .filter((m) => m.name === 'dispatcher').map((m) => m.args);
      expect(replayed).to.deep.equal(missed);
      socket.close();
    });

  it('leaves no process when it stops with jobs running', async function () {
    await client.dispatcher({
      action: 'run', stubborn: `sh -c "trap '' TERM; sleep 300 & wait"`,
      plain: 'sleep 300'
    });
    const started = await events.count((e) => e.event === 'started', 2);
    const groups = started.map((e) => e.commands[0].pid as number);
    await server.stop();
    for (const pgid of groups) expect(groupAlive(pgid)).to.equal(false);
    server = await startServer();
  });
});

describe('retention', function () {
  it('deletes old and excess finished jobs with their files',
    async function () {
      const server = await startServer();
      const client = await server.connect();
      const events = new EventLog(client);
      await client.subscribe();
      for (const id of ['r1', 'r2', 'r3']) {
        await client.dispatcher({ action: 'run', [id]: `echo ${id}` });
        await events.finished(id);
      }
      const store = new SqliteStore(server.dataDir);
      const files = new OutputFiles(server.dataDir, 1 << 20, () => {});
      try {
        const outputs = () => readdirSync(files.directory).sort();
        // Files are opened and flushed just after their jobs end.
        const deadline = Date.now() + 5000;
        while (outputs().length < 3 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(outputs()).to.have.length(3);
        expect(await prune(store, files, { maxAgeMs: 1e9, maxJobs: 2 }))
          .to.equal(1);
        expect(store.latest('r1')).to.equal(undefined);
        expect(outputs()).to.have.length(2);
        expect(existsSync(join(files.directory, '1-0.log'))).to.equal(false);
        const later = Date.now() + 2 * 86400 * 1000;
        expect(await prune(store, files, { maxAgeMs: 86400 * 1000,
          maxJobs: 100 }, later)).to.equal(2);
        expect(outputs()).to.deep.equal([]);
        expect(store.finished(10)).to.deep.equal([]);
      } finally {
        store.close();
        await server.stop();
      }
    });
});
