/**
 * Throughput of short jobs run side by side: `true` in `no_queue`
 * limited to 16 at once, against a plain spawn loop with 16 in flight.
 *
 * Baseline and server runs alternate, three of each in a full run, and
 * the medians are compared, so that a burst of other work on the
 * machine does not land on one side only.
 */
import { spawnLoop } from '../harness/baselines.js';
import { CpuMeter } from '../harness/processes.js';
import {
  figure,
  using,
  type Scenario,
  type ScenarioReport
} from '../harness/scenario.js';
import { BenchServer } from '../harness/server.js';
import { median } from '../harness/stats.js';
import { jobBatch, Watch } from '../harness/watch.js';

/** Jobs at once, as the server is started with `no_queue=16`. */
const IN_FLIGHT = 16;

export const parallel: Scenario = {
  id: 'parallel',
  title: `one-command jobs in no_queue, ${IN_FLIGHT} at once`,
  run: (context) => using(async (track) => {
    const count = context.quick ? 50 : 2000;
    const repeats = context.quick ? 1 : 3;
    const server = track(await BenchServer.start({
      name: 'parallel',
      queues: [`no_queue=${IN_FLIGHT}`],
      profileDir: context.profileDir
    }));
    const client = await server.connect();
    const watch = new Watch(client);
    await client.subscribe();

    const baseline: number[] = [];
    const measured: number[] = [];
    const cores: number[] = [];
    let maxRunning = 0;
    let failed = 0;
    for (let round = 0; round < repeats; round++) {
      baseline.push((await spawnLoop('true', count, IN_FLIGHT)).rate);
      watch.clear();
      const cpu = new CpuMeter(server.pid);
      const start = performance.now();
      await client.dispatcher(jobBatch('no_queue', `p${round}-`, count,
        'true'));
      await watch.until(() => watch.finished.size === count,
        `${count} jobs to finish`);
      measured.push(count / ((performance.now() - start) / 1000));
      cores.push(cpu.read());

      const logs = [...watch.finished.values()];
      failed += logs.filter((log) => log.outcome !== 'success').length;
      maxRunning = Math.max(maxRunning,
        maxOverlap(logs.map((log) => log.commands[0])));
      context.note(`round ${round + 1}: ${baseline[round].toFixed(0)} ` +
        `spawns/s, ${measured[round].toFixed(0)} jobs/s`);
    }

    return {
      figures: [figure({
        measure: `${count} jobs, jobs/s (median of ${repeats})`,
        value: median(measured),
        unit: 'jobs/s',
        baseline: median(baseline),
        baselineLabel: `spawn loop, ${IN_FLIGHT} in flight`,
        target: { on: 'ratio', op: '>=', limit: 0.85 }
      }, context.quick)],
      details: {
        count,
        measured,
        baseline,
        serverCores: cores,
        maxRunning,
        failed
      }
    } satisfies ScenarioReport;
  })
};

/**
 * Most commands running at one instant, from their start and finish
 * times: checks that the limit of 16 held.
 */
function maxOverlap(
  commands: Array<{ started_at: number; finished_at: number }>
): number {
  const edges = commands.flatMap((c) => [
    { at: c.started_at, step: 1 },
    { at: c.finished_at, step: -1 }
  ]);
  // At equal times count the end first: a slot freed, then reused.
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let running = 0;
  let most = 0;
  for (const edge of edges) {
    running += edge.step;
    most = Math.max(most, running);
  }
  return most;
}
