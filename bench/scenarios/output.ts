/**
 * A job that prints a lot: `head -c N /dev/zero` to stdout. Throughput
 * is N over the time from the `run` request to the job's end (found by
 * polling `list` from a client that is not subscribed). The server's
 * memory is sampled during the run: it keeps only 1 MiB of a command's
 * output in memory, so it should not grow with N.
 *
 * Two baselines, each the median of three runs: the same bytes through
 * a plain pipe into `cat` (the target's), and read by a bare Node.js
 * process from a child's pipe (the best a Node.js server can do).
 *
 * Measured with nobody subscribed (median of three runs, each job's
 * growth judged, and what the server still holds after them), and once
 * with one subscriber, which is sent the output as `output` events, or
 * told how many bytes of it it was not sent (`skipped_bytes`). Zero
 * bytes are the worst case for those: each becomes six characters of
 * JSON (`\u0000`).
 */
import type { Client } from '../../lib/client/client.js';
import { nodeReadThroughput, pipeThroughput } from '../harness/baselines.js';
import { waitUntil } from '../harness/processes.js';
import {
  figure,
  using,
  type Figure,
  type Scenario,
  type ScenarioReport
} from '../harness/scenario.js';
import { BenchServer } from '../harness/server.js';
import { mb, median } from '../harness/stats.js';

/** How often the server's RSS is read during the run, ms. */
const SAMPLE_MS = 20;

/** How often `list` is polled for the end of the job, ms. */
const POLL_MS = 20;

export const output: Scenario = {
  id: 'output',
  title: 'one job printing a lot to stdout',
  run: (context) => using(async (track) => {
    const bytes = context.quick ? 10_000_000 : 1_000_000_000;
    const repeats = context.quick ? 1 : 3;
    const pipe: number[] = [];
    const node: number[] = [];
    for (let i = 0; i < 3; i++) {
      pipe.push(await pipeThroughput(bytes));
      node.push(await nodeReadThroughput(bytes));
    }
    context.note(`baselines: pipe ${mb(median(pipe)).toFixed(0)} MB/s, ` +
      `Node.js reader ${mb(median(node)).toFixed(0)} MB/s`);

    const server = track(await BenchServer.start({
      name: 'output-unwatched',
      profileDir: context.profileDir
    }));
    const unwatched = [];
    for (let i = 0; i < repeats; i++) {
      unwatched.push(await printJob(server, bytes, `print${i}`, false));
    }
    // What the server keeps once the jobs are over: it should give back
    // what a job's output took.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const held = server.memory().rss - unwatched[0].rssBefore;
    await server.stop();
    const rate = median(unwatched.map((run) => run.rate));
    const growth = Math.max(...unwatched.map((run) => run.growth));
    context.note(`no subscriber: ${mb(rate).toFixed(0)} MB/s, ` +
      `RSS +${mb(growth).toFixed(0)} MB`);

    const watchedServer = track(await BenchServer.start({
      name: 'output-watched',
      profileDir: context.profileDir
    }));
    const watched = {
      ...await printJob(watchedServer, bytes, 'print', true),
      dropped: false
    };
    watched.dropped = watchedServer.log.includes('dropped a subscriber');
    await watchedServer.stop();
    context.note(`1 subscriber: ${mb(watched.rate).toFixed(0)} MB/s, ` +
      `RSS +${mb(watched.growth).toFixed(0)} MB, ` +
      `${mb(watched.received).toFixed(1)} MB received`);

    const size = `${bytes / 1e6} MB`;
    const quick = context.quick;
    const figures: Figure[] = [
      figure({
        measure: `${size} of output, no subscriber`,
        value: mb(rate),
        unit: 'MB/s',
        baseline: mb(median(pipe)),
        baselineLabel: 'head | cat > /dev/null',
        target: { on: 'ratio', op: '>=', limit: 0.7 }
      }, quick),
      figure({
        measure: `${size} of output, no subscriber`,
        value: mb(rate),
        unit: 'MB/s',
        baseline: mb(median(node)),
        baselineLabel: 'bare Node.js reading the pipe'
      }, quick),
      figure({
        measure: 'RSS growth, no subscriber',
        value: mb(growth),
        unit: 'MB',
        baseline: mb(unwatched[0].rssBefore),
        baselineLabel: 'server RSS before the job',
        target: { on: 'value', op: '<', limit: 64 }
      }, quick),
      figure({
        measure: `RSS held after ${repeats} × ${size}`,
        value: mb(held),
        unit: 'MB',
        baseline: mb(unwatched[0].rssBefore),
        baselineLabel: 'server RSS before the first'
      }, quick),
      figure({
        measure: `${size} of output, 1 subscriber`,
        value: mb(watched.rate),
        unit: 'MB/s',
        baseline: mb(median(pipe)),
        baselineLabel: 'head | cat > /dev/null',
        target: { on: 'ratio', op: '>=', limit: 0.7 }
      }, quick),
      figure({
        measure: 'RSS growth, 1 subscriber',
        value: mb(watched.growth),
        unit: 'MB',
        baseline: mb(watched.rssBefore),
        baselineLabel: 'server RSS before the job',
        target: { on: 'value', op: '<', limit: 64 }
      }, quick),
      figure({
        measure: 'output received by the subscriber',
        value: mb(watched.received),
        unit: 'MB',
        baseline: bytes / 1e6,
        baselineLabel: 'printed'
      }, quick)
    ];
    return {
      figures,
      details: { bytes, pipe, node, unwatched, held, watched }
    } satisfies ScenarioReport;
  })
};

/**
 * Runs one printing job named `id`, sampling the server's memory until
 * it ends; with `watched`, a second client subscribes and counts the
 * output it is sent.
 */
async function printJob(
  server: BenchServer,
  bytes: number,
  id: string,
  watched: boolean
) {
  const client = await server.connect();
  const tally = { events: 0, received: 0, skipped: 0, leanEvents: 0,
    seqGaps: 0, finished: false, disconnected: false };
  if (watched) {
    const watcher = await server.connect();
    let lastSeq: number | null = null;
    watcher.on('event', ({ args }) => {
      if (lastSeq !== null && args.seq !== lastSeq + 1) tally.seqGaps++;
      lastSeq = args.seq;
      if (args.process_id !== id) return;
      if (args.event === 'finished') tally.finished = true;
      if (args.event !== 'output') return;
      tally.events++;
      tally.received += Buffer.byteLength(String(args.output ?? ''));
      if (args.skipped_bytes !== undefined) {
        tally.leanEvents++;
        tally.skipped += args.skipped_bytes;
      }
    });
    watcher.on('close', () => (tally.disconnected = true));
    await watcher.subscribe();
  }
  const { rss: rssBefore, peak: hwmBefore } = server.memory();
  let peak = rssBefore;
  const sampler = setInterval(() => {
    peak = Math.max(peak, server.memory().rss);
  }, SAMPLE_MS);

  const start = performance.now();
  try {
    await client.dispatcher({
      action: 'run',
      [id]: `head -c ${bytes} /dev/zero`
    });
    await untilGone(client, id);
  } finally {
    clearInterval(sampler);
  }
  const ms = performance.now() - start;
  // The subscriber may still be reading events the job left behind.
  await waitUntil(() => !watched || tally.finished || tally.disconnected,
    'the subscriber to get the end of the job', 60_000);
  // A new high-water mark is a peak that fell between two samples.
  const hwm = server.memory().peak;
  if (hwm > hwmBefore) peak = Math.max(peak, hwm);
  return {
    ms,
    rate: bytes / (ms / 1000),
    rssBefore,
    peak,
    growth: peak - rssBefore,
    ...tally
  };
}

/** Polls `list` until job `id` is neither pending nor running. */
function untilGone(client: Client, id: string): Promise<void> {
  return waitUntil(async () => {
    const { jobs } = await client.dispatcher({ action: 'list' });
    return !jobs.no_queue?.[id];
  }, `job ${id} to end`, 600_000, POLL_MS);
}
