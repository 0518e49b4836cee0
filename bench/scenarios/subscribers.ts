/**
 * Event fan-out: 100 subscribed connections while 1 000 jobs run. Every
 * subscriber must get the `queued`, `started` and `finished` event of
 * every job, with no gap in the event numbers (`seq`); the delay of each
 * event is its arrival time here minus the time the server stamped on
 * it (`args.time`). The baseline is the same run watched by one
 * subscriber.
 */
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

/** The events each job must produce, as bits of a per-job mask. */
const EXPECTED = { queued: 1, started: 2, finished: 4 } as const;

/** Event delays of all subscribers, ms, by event name. */
type Delays = Record<keyof typeof EXPECTED, number[]>;

/** What one subscriber saw of one batch of jobs. */
class Tally {
  /** Per job id: which of the expected events arrived. */
  seen = new Map<string, number>();
  duplicates = 0;
  /** Events missing between two `seq` numbers, of any kind. */
  seqGaps = 0;
  /** Event delays, ms, by event name. */
  delays: Delays;
  #lastSeq: number | null = null;

  constructor(client: Client, prefix: string, delays: Delays,
    onFinished: () => void) {
    this.delays = delays;
    client.on('event', ({ args }) => {
      const now = performance.timeOrigin + performance.now();
      if (this.#lastSeq !== null && args.seq !== this.#lastSeq + 1) {
        this.seqGaps += Math.max(0, args.seq - this.#lastSeq - 1);
      }
      this.#lastSeq = args.seq;
      const id = String(args.process_id);
      const bit = EXPECTED[args.event as keyof typeof EXPECTED];
      if (!bit || !id.startsWith(prefix)) return;
      delays[args.event as keyof Delays].push(now - Date.parse(args.time));
      const mask = this.seen.get(id) ?? 0;
      if (mask & bit) this.duplicates++;
      this.seen.set(id, mask | bit);
      if (bit === EXPECTED.finished) onFinished();
    });
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

    const one = await watchBatch(server, driver, 'a', jobs, 1, timeoutMs);
    const all = await watchBatch(server, driver, 'b', jobs, many, timeoutMs);
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
  prefix: string,
  jobs: number,
  count: number,
  timeoutMs: number
) {
  const delays: Delays = { queued: [], started: [], finished: [] };
  let finished = 0;
  let wake = () => {};
  const tallies: Tally[] = [];
  const clients: Client[] = [];
  for (let i = 0; i < count; i++) {
    const client = await server.connect();
    tallies.push(new Tally(client, prefix, delays, () => {
      if (++finished === jobs * count) wake();
    }));
    await client.subscribe();
    clients.push(client);
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
  for (const client of clients) await client.close();

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
