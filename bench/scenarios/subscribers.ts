/**
 * Event fan-out: 100 subscribed connections while 1 000 jobs run. Every
 * subscriber must get the `queued`, `started` and `finished` event of
 * every job, with no gap in the event numbers (`seq`); the delay of each
 * event is the time its bytes reached this process minus the time the
 * server stamped on it (`args.time`). The baseline is the same run
 * watched by one subscriber.
 *
 * The subscribers live in this process, so what they do with an event
 * delays the events behind it: 100 of them parsing 300 000 messages
 * measure themselves more than the server. So once subscribed, each
 * only keeps the data its socket reads, with the time it was read; the
 * frames and their JSON are parsed once the run is over, and each event
 * is stamped with the time the read that completed it arrived.
 */
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';

import * as ws from 'ws';

import type { Client } from '../../lib/client/client.js';
import {
  figure,
  using,
  type Scenario,
  type ScenarioReport
} from '../harness/scenario.js';
import { CpuMeter } from '../harness/processes.js';
import { BenchServer } from '../harness/server.js';
import { percentile } from '../harness/stats.js';
import { jobBatch, jobIds } from '../harness/watch.js';

/** ws's frame parser, which its type declarations leave out. */
const { Receiver } = ws as unknown as {
  Receiver: new (options: { allowSynchronousEvents: boolean }) => Writable;
};

/** The events each job must produce, as bits of a per-job mask. */
const EXPECTED = { queued: 1, started: 2, finished: 4 } as const;

/** Event delays of all subscribers, ms, by event name. */
type Delays = Record<keyof typeof EXPECTED, number[]>;

/** How a `finished` event starts, as the server writes it. */
const FINISHED = Buffer.from('"args":{"event":"finished"');

/**
 * A subscribed connection that keeps what it reads, with when it read
 * it (epoch ms), and counts `finished` events as they come.
 */
class Recorder {
  readonly socket: ws.WebSocket;
  readonly reads: Array<{ at: number; data: Buffer }> = [];
  finished = 0;
  /** The end of the last read, where a `finished` may have begun. */
  #tail: Buffer = Buffer.alloc(0);

  private constructor(socket: ws.WebSocket) {
    this.socket = socket;
  }

  /** Connects, logs in with `token` and subscribes. */
  static async open(url: string, token: string): Promise<Recorder> {
    const socket = new ws.WebSocket(url, { maxPayload: 0 });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const recorder = new Recorder(socket);
    await recorder.#ask('rpc', 'auth_token', { token });
    await recorder.#ask('events', 'subscribe', ['dispatcher']);
    return recorder;
  }

  /**
   * From now on, keeps what the socket reads instead of letting ws
   * parse it; nothing comes between the subscription and the run.
   */
  record(onFinished: () => void): void {
    const raw = (this.socket as unknown as { _socket: Socket })._socket;
    raw.removeAllListeners('data');
    raw.on('data', (data: Buffer) => {
      this.reads.push({ at: performance.timeOrigin + performance.now(),
        data });
      // A `finished` may begin at the end of one read and end in the
      // next; none lies wholly in either end.
      const edge = FINISHED.length - 1;
      const across = Buffer.concat([this.#tail, data.subarray(0, edge)]);
      for (const bytes of [across, data]) {
        for (let at = bytes.indexOf(FINISHED); at >= 0;
          at = bytes.indexOf(FINISHED, at + 1)) {
          this.finished++;
          onFinished();
        }
      }
      this.#tail = data.subarray(-edge);
    });
  }

  /** The event messages read, each with when its last byte arrived. */
  messages(): Array<{ at: number; text: string }> {
    const messages: Array<{ at: number; text: string }> = [];
    const receiver = new Receiver({ allowSynchronousEvents: true });
    let at = 0;
    receiver.on('message', (data: Buffer) =>
      messages.push({ at, text: String(data) }));
    for (const read of this.reads) {
      at = read.at;
      receiver.write(read.data);
    }
    return messages;
  }

  /** Sends a request and waits for its reply. */
  #ask(namespace: string, name: string, args: unknown): Promise<void> {
    const id = `${name}-${Math.random()}`;
    return new Promise((resolve, reject) => {
      const onMessage = (data: Buffer) => {
        const reply = JSON.parse(String(data));
        if (reply.id !== id) return;
        this.socket.off('message', onMessage);
        if (reply.name === 'error') reject(new Error(reply.args.detail));
        else resolve();
      };
      this.socket.on('message', onMessage);
      this.socket.send(JSON.stringify({ namespace, name, id, args }));
    });
  }

  close(): void {
    this.socket.terminate();
  }
}

/** What one subscriber saw of one batch of jobs. */
class Tally {
  /** Per job id: which of the expected events arrived. */
  seen = new Map<string, number>();
  duplicates = 0;
  /** Events missing between two `seq` numbers, of any kind. */
  seqGaps = 0;

  /** Parses what `recorder` kept; adds the delays of `prefix` jobs. */
  constructor(recorder: Recorder, prefix: string, delays: Delays) {
    let lastSeq: number | null = null;
    for (const { at, text } of recorder.messages()) {
      const { args } = JSON.parse(text);
      if (lastSeq !== null && args.seq !== lastSeq + 1) {
        this.seqGaps += Math.max(0, args.seq - lastSeq - 1);
      }
      lastSeq = args.seq;
      const id = String(args.process_id);
      const bit = EXPECTED[args.event as keyof typeof EXPECTED];
      if (!bit || !id.startsWith(prefix)) continue;
      delays[args.event as keyof Delays].push(at - Date.parse(args.time));
      const mask = this.seen.get(id) ?? 0;
      if (mask & bit) this.duplicates++;
      this.seen.set(id, mask | bit);
    }
  }

  /** Expected events that never came, for these job ids. */
  lost(ids: string[]): number {
    let lost = 0;
    for (const id of ids) {
      const mask = this.seen.get(id) ?? 0;
      for (const bit of Object.values(EXPECTED)) if (!(mask & bit)) lost++;
    }
    return lost;
  }
}

export const subscribers: Scenario = {
  id: 'subscribers',
  title: 'every event to every subscriber while jobs run',
  run: (context) => using(async (track) => {
    const jobs = context.quick ? 50 : 1000;
    const many = context.quick ? 10 : 100;
    const timeoutMs = context.quick ? 20_000 : 120_000;
    // All connections come from 127.0.0.1, over the default limit of
    // 64 per address.
    const server = track(await BenchServer.start({
      name: 'subscribers',
      flags: ['--max-connections-per-address', String(many + 16)],
      profileDir: context.profileDir
    }));
    const driver = await server.connect();
    const [token] = await driver.request('rpc', 'auth', {
      username: 'admin', password: server.password
    });

    const one = await watchBatch(server, driver, token, 'a', jobs, 1,
      timeoutMs);
    const all = await watchBatch(server, driver, token, 'b', jobs, many,
      timeoutMs);
    context.note(`${many} subscribers: lost ${all.lost}, p99 ` +
      `${all.p99.toFixed(1)} ms`);

    const quick = context.quick;
    return {
      figures: [
        figure({
          measure: `events lost, ${many} subscribers × ${jobs} jobs`,
          value: all.lost,
          unit: 'events',
          baseline: all.expected,
          baselineLabel: 'events expected',
          target: { on: 'value', op: '==', limit: 0 }
        }, quick),
        figure({
          measure: `event delay p99, ${many} subscribers`,
          value: all.p99,
          unit: 'ms',
          baseline: one.p99,
          baselineLabel: 'same with 1 subscriber, p99',
          target: { on: 'value', op: '<', limit: 100 }
        }, quick)
      ],
      // A gap in `seq` is an event lost too, whatever its kind.
      lost: all.lost + one.lost + all.seqGaps + one.seqGaps,
      details: { jobs, one, all }
    } satisfies ScenarioReport;
  })
};

/**
 * Connects `count` subscribers, runs `jobs` jobs named `prefix...` in
 * no_queue from `driver`, and waits until every subscriber has every
 * job's `finished` event, or `timeoutMs` passed.
 */
async function watchBatch(
  server: BenchServer,
  driver: Client,
  token: string,
  prefix: string,
  jobs: number,
  count: number,
  timeoutMs: number
) {
  let finished = 0;
  let wake = () => {};
  const recorders: Recorder[] = [];
  for (let i = 0; i < count; i++) {
    recorders.push(await Recorder.open(server.url, token));
  }
  for (const recorder of recorders) {
    recorder.record(() => {
      if (++finished === jobs * count) wake();
    });
  }

  const done = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    wake = () => {
      clearTimeout(timer);
      resolve(true);
    };
  });
  // How busy both ends were: a delay is only the server's when this
  // process kept up with what it was sent.
  const cpu = new CpuMeter(server.pid);
  const loop = performance.eventLoopUtilization();
  const start = performance.now();
  await driver.dispatcher(jobBatch('no_queue', prefix, jobs, 'true'));
  const complete = await done;
  const ms = performance.now() - start;
  const serverCores = cpu.read();
  const clientBusy = performance.eventLoopUtilization(loop).utilization;
  for (const recorder of recorders) recorder.close();

  const delays: Delays = { queued: [], started: [], finished: [] };
  const tallies = recorders.map((recorder) =>
    new Tally(recorder, prefix, delays));
  const ids = jobIds(prefix, jobs);
  const all = Object.values(delays).flat();
  return {
    subscribers: count,
    complete,
    ms,
    serverCores,
    clientBusy,
    expected: jobs * count * 3,
    lost: tallies.reduce((sum, tally) => sum + tally.lost(ids), 0),
    duplicates: tallies.reduce((sum, tally) => sum + tally.duplicates, 0),
    seqGaps: tallies.reduce((sum, tally) => sum + tally.seqGaps, 0),
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    max: percentile(all, 100),
    // Which events wait: the burst of `queued` events, or starts.
    p99ByEvent: Object.fromEntries(Object.entries(delays)
      .map(([name, times]) => [name, percentile(times, 99)]))
  };
}
