/**
 * `list` with a long queue: the full listing, the first page, and a page
 * from the middle of the queue (`after` the job halfway).
 *
 * Baselines, from the same client code:
 * - full list: a bare `ws` server that answers each request with the
 *   same reply, serialised anew: the cost of the reply's size alone;
 * - pages: a small request echoed by a bare `ws` server.
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

/** Jobs per page. */
const PAGE = 100;

export const list: Scenario = {
  id: 'list',
  title: 'list with a long queue pending: full, first page, middle page',
  run: (context) => using(async (track) => {
    const count = context.quick ? 1000 : 100_000;
    const fullCalls = context.quick ? 5 : 20;
    const pageCalls = context.quick ? 20 : 100;
    const queue = track(await pendingQueue('list', count, context));
    const { client, ids } = queue;

    const full = { action: 'list' };
    const first = { action: 'list', limit: PAGE };
    const middle = { action: 'list', limit: PAGE, after: ids[count / 2 - 1] };
    const reply = await client.dispatcher(full);
    const replyBytes = JSON.stringify(reply).length;
    const listed = Object.keys(reply.jobs.pkg_queue ?? {}).length;
    if (listed !== count + 1) {
      throw new Error(`list showed ${listed} jobs, not ${count + 1}`);
    }
    const middlePage = await client.dispatcher(middle);
    const firstId = Object.keys(middlePage.jobs.pkg_queue)[0];
    if (firstId !== ids[count / 2]) {
      throw new Error(`the middle page starts at ${firstId}`);
    }

    const server = {
      full: await calls(client, full, fullCalls),
      first: await calls(client, first, pageCalls),
      middle: await calls(client, middle, pageCalls)
    };
    await queue.stop();

    const replay = track(await EchoServer.start('replay'));
    await replay.store(reply);
    const replayFull = await calls(await replay.connect(), full, fullCalls);
    const echo = track(await EchoServer.start('echo'));
    const echoSmall = await calls(await echo.connect(), first, pageCalls);

    const quick = context.quick;
    const p99 = (times: number[]) => percentile(times, 99);
    return {
      figures: [
        figure({
          measure: `full list of ${count} pending, p50`,
          value: median(server.full),
          unit: 'ms',
          baseline: median(replayFull),
          baselineLabel: 'same reply from bare ws, p50'
        }, quick),
        figure({
          measure: `full list of ${count} pending, p99`,
          value: p99(server.full),
          unit: 'ms',
          baseline: p99(replayFull),
          baselineLabel: 'same reply from bare ws, p99',
          target: { on: 'value', op: '<', limit: 500 }
        }, quick),
        figure({
          measure: `first page (limit ${PAGE}), p99`,
          value: p99(server.first),
          unit: 'ms',
          baseline: p99(echoSmall),
          baselineLabel: 'small request echoed, p99',
          target: { on: 'value', op: '<', limit: 5 }
        }, quick),
        figure({
          measure: `middle page (after job ${count / 2}), p99`,
          value: p99(server.middle),
          unit: 'ms',
          baseline: p99(echoSmall),
          baselineLabel: 'small request echoed, p99',
          target: { on: 'value', op: '<', limit: 5 }
        }, quick)
      ],
      details: {
        count,
        replyBytes,
        acceptMs: queue.acceptMs,
        server,
        replayFull,
        echoSmall
      }
    } satisfies ScenarioReport;
  })
};

/** Sends `args` `count` times, one after the other; each round trip, ms. */
function calls(
  client: Client,
  args: Record<string, unknown>,
  count: number
): Promise<number[]> {
  return timedEach(count, () => client.dispatcher(args));
}
