/**
 * Killing one pending job in a long queue, at two queue lengths a
 * hundred times apart: the round trip of the `kill` request, for jobs
 * spread over the whole queue. A kill that scanned the queue would grow
 * with its length.
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
import { median, percentile, timedEach } from '../harness/stats.js';

export const killPending: Scenario = {
  id: 'kill-pending',
  title: 'kill one pending job, short and long queue',
  run: (context) => using(async (track) => {
    const [short, long] = context.quick ? [100, 1000] : [1000, 100_000];
    const kills = context.quick ? 5 : 20;

    const times: Record<number, number[]> = {};
    for (const count of [short, long]) {
      const queue = track(
        await pendingQueue(`kill-pending-${count}`, count, context));
      times[count] = await killSpread(queue.client, queue.ids, kills);
      await queue.stop();
      context.note(`${count} pending: p50 ` +
        `${median(times[count]).toFixed(2)} ms`);
    }
    const echo = track(await EchoServer.start('echo'));
    const echoClient = await echo.connect();
    const echoTimes = await timedEach(kills,
      () => echoClient.dispatcher({ action: 'kill', job_id: 'q1' }));

    const quick = context.quick;
    return {
      figures: [
        figure({
          measure: `kill 1 of ${short} pending, p50`,
          value: median(times[short]),
          unit: 'ms',
          baseline: median(echoTimes),
          baselineLabel: 'same request echoed by bare ws, p50',
          target: { on: 'value', op: '<', limit: 5 }
        }, quick),
        figure({
          measure: `kill 1 of ${long} pending, p50`,
          value: median(times[long]),
          unit: 'ms',
          baseline: median(times[short]),
          baselineLabel: `same with ${short} pending, p50`,
          target: { on: 'value', op: '<', limit: 5 }
        }, quick),
        figure({
          measure: `kill 1 of ${long} pending, p99`,
          value: percentile(times[long], 99),
          unit: 'ms',
          baseline: percentile(times[short], 99),
          baselineLabel: `same with ${short} pending, p99`
        }, quick),
        figure({
          measure: `p50 growth, ${long} vs ${short} pending`,
          value: median(times[long]) / median(times[short]),
          unit: '×',
          baseline: 1,
          baselineLabel: 'flat: independent of length',
          target: { on: 'value', op: '<=', limit: 1.5 }
        }, quick)
      ],
      details: { kills, times, echoTimes }
    } satisfies ScenarioReport;
  })
};

/**
 * Kills `count` jobs spread evenly over the queue, one request each;
 * checks every reply and returns each round trip, ms.
 */
async function killSpread(
  client: Client,
  ids: string[],
  count: number
): Promise<number[]> {
  const step = ids.length / count;
  const targets = Array.from({ length: count },
    (_, i) => ids[Math.floor(step * i + step / 2)]);
  const replies: any[] = [];
  const times = await timedEach(count, async (i) => {
    replies.push(await client.dispatcher({
      action: 'kill',
      job_id: targets[i]
    }));
  });
  replies.forEach((reply, i) => {
    if (!reply.killed.jobs.includes(targets[i])) {
      throw new Error(`kill of ${targets[i]} answered ` +
        JSON.stringify(reply));
    }
  });
  return times;
}
