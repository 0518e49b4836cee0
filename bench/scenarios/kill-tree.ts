/**
 * Killing a running job whose process tree has 20 processes that all
 * exit on SIGTERM: from sending the `kill` request to receiving the
 * job's `finished` event, which the server sends only once every process
 * of the tree is gone. The baseline sends SIGTERM to the same tree's
 * process group directly and waits for the same thing.
 */
import { killTreeDirectly } from '../harness/baselines.js';
import { liveGroupMembers, waitUntil } from '../harness/processes.js';
import {
  figure,
  using,
  type Scenario,
  type ScenarioReport
} from '../harness/scenario.js';
import { BenchServer } from '../harness/server.js';
import { median, percentile } from '../harness/stats.js';
import { Watch } from '../harness/watch.js';

/** Processes in the tree: the shell and its sleeping children. */
const TREE_SIZE = 20;

/** A shell with 19 children, all ended by SIGTERM. */
const TREE_SCRIPT =
  `for i in $(seq ${TREE_SIZE - 1}); do sleep 300 & done; wait`;

export const killTree: Scenario = {
  id: 'kill-tree',
  title: `kill a running job with a tree of ${TREE_SIZE} processes`,
  run: (context) => using(async (track) => {
    const repeats = context.quick ? 2 : 7;
    const server = track(await BenchServer.start({
      name: 'kill-tree',
      profileDir: context.profileDir
    }));
    const client = await server.connect();
    const watch = new Watch(client);
    await client.subscribe();

    const times: number[] = [];
    const escalated: boolean[] = [];
    for (let i = 0; i < repeats; i++) {
      const id = `tree${i}`;
      await client.dispatcher({
        action: 'run',
        [id]: `sh -c '${TREE_SCRIPT}'`
      });
      await watch.until(() => watch.started.has(id), `${id} to start`);
      const pgid = watch.started.get(id)!.commands[0].pid as number;
      await waitUntil(() => liveGroupMembers(pgid).length >= TREE_SIZE,
        `${TREE_SIZE} processes in ${id}`);

      const sent = performance.timeOrigin + performance.now();
      await client.dispatcher({ action: 'kill', job_id: id });
      const finished = await watch.finishedOf(id, 20_000);
      if (finished.outcome !== 'killed') {
        throw new Error(`${id} ended ${finished.outcome}, not killed`);
      }
      if (liveGroupMembers(pgid).length > 0) {
        throw new Error(`${id} was reported killed with processes alive`);
      }
      times.push(finished.receivedAt - sent);
      escalated.push(Boolean(finished.killed?.escalated));
    }
    context.note(`server: median ${median(times).toFixed(1)} ms`);

    const direct: number[] = [];
    for (let i = 0; i < repeats; i++) {
      direct.push(await killTreeDirectly(TREE_SCRIPT, TREE_SIZE));
    }

    return {
      figures: [figure({
        measure: `kill → finished, median of ${repeats}`,
        value: median(times),
        unit: 'ms',
        baseline: median(direct),
        baselineLabel: 'SIGTERM to the group → all gone',
        target: { on: 'value', op: '<', limit: 50 }
      }, context.quick)],
      details: {
        times,
        max: percentile(times, 100),
        escalated,
        direct
      }
    } satisfies ScenarioReport;
  })
};
