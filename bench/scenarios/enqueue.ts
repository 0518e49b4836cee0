/**
 * Accepting a big batch: N jobs queued by one `run` request behind a
 * long-running job in a serial queue, for two sizes ten times apart.
 * The baseline is the same request echoed by a bare `ws` server: the
 * cost of moving and framing that message at all.
 */
import type { Client } from '../../lib/client/client.js';
import { EchoServer } from '../harness/echo.js';
import { pendingQueue } from '../harness/pending.js';
import {
  figure,
  using,
  type Scenario,
  type ScenarioReport
} from '../harness/scenario.js';
import { mb, timed } from '../harness/stats.js';

/** Most the server may hold with the large batch pending, MB. */
const RSS_LIMIT_MB = 300;

export const enqueue: Scenario = {
  id: 'enqueue',
  title: 'queue N jobs behind a running one in pkg_queue, one request',
  run: (context) => using(async (track) => {
    const [small, large] = context.quick ? [100, 1000] : [10_000, 100_000];
    const echo = track(await EchoServer.start('echo'));
    const echoClient = await echo.connect();
    await echoClient.dispatcher({ action: 'warm-up' });

    const runs = [];
    for (const count of [small, large]) {
      const queue = track(
        await pendingQueue(`enqueue-${count}`, count, context));
      context.note(`${count} accepted in ${queue.acceptMs.toFixed(0)} ms, ` +
        `RSS ${mb(queue.memoryAfter.rss).toFixed(0)} MB`);
      if (context.heapDir && count === large) {
        await queue.server.heapSnapshot();
      }
      // Stopped before the next size, so it competes with nothing.
      await queue.stop();
      const echoMs = await echoTime(echoClient, queue.request);
      runs.push({ count, echoMs, ...queue });
    }
    const [first, second] = runs;
    const quick = context.quick;

    return {
      figures: [
        ...runs.map((run) => figure({
          measure: `accept ${run.count} jobs`,
          value: run.acceptMs,
          unit: 'ms',
          baseline: run.echoMs,
          baselineLabel: 'same request echoed by bare ws',
          target: run === second
            ? { on: 'value', op: '<', limit: 3000 }
            : null
        }, quick)),
        figure({
          measure: `time ratio, ${second.count} vs ${first.count} jobs`,
          value: second.acceptMs / first.acceptMs,
          unit: '×',
          baseline: second.count / first.count,
          baselineLabel: 'ratio of job counts (linear)',
          target: { on: 'value', op: '<=', limit: 12 }
        }, quick),
        figure({
          measure: `server RSS, ${second.count} pending`,
          value: mb(second.memoryAfter.rss),
          unit: 'MB',
          baseline: mb(second.memoryBefore.rss),
          baselineLabel: 'same server before the request',
          target: { on: 'value', op: '<=', limit: RSS_LIMIT_MB }
        }, quick)
      ],
      details: Object.fromEntries(runs.map((run) => [run.count, {
        acceptMs: run.acceptMs,
        echoMs: run.echoMs,
        requestBytes: JSON.stringify(run.request).length,
        rssBefore: run.memoryBefore.rss,
        rssAfter: run.memoryAfter.rss,
        peakAfter: run.memoryAfter.peak
      }]))
    } satisfies ScenarioReport;
  })
};

/** Round trip of `request` through the echo server, ms. */
function echoTime(
  client: Client,
  request: Record<string, unknown>
): Promise<number> {
  return timed(() => client.dispatcher(request));
}
