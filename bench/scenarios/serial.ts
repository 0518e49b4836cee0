/**
 * A serial queue: `true` jobs in `pkg_queue`, one at a time, against a
 * plain serial spawn loop; and the gap between one job's end and the
 * next one's spawn, read from the jobs' own finished events
 * (`commands[0].finished_at` of one job, `started_at` of the next).
 *
 * Baseline and server runs alternate, three of each in a full run; the
 * medians are compared.
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
import { median, percentile } from '../harness/stats.js';
import { jobBatch, jobIds, Watch } from '../harness/watch.js';

export const serial: Scenario = {
  id: 'serial',
  title: 'one-command jobs in pkg_queue, one at a time',
  run: (context) => using(async (track) => {
    const count = context.quick ? 50 : 1000;
    const repeats = context.quick ? 1 : 3;
    const server = track(await BenchServer.start({
      name: 'serial',
      profileDir: context.profileDir
    }));
    const client = await server.connect();
    const watch = new Watch(client);
    await client.subscribe();

    const baseline: number[] = [];
    const baselineGaps: number[] = [];
    const measured: number[] = [];
    const gaps: number[] = [];
    const cores: number[] = [];
    let overlaps = 0;
    for (let round = 0; round < repeats; round++) {
      const loop = await spawnLoop('true', count, 1);
      baseline.push(loop.rate);
      baselineGaps.push(...loop.gaps);

      watch.clear();
      const cpu = new CpuMeter(server.pid);
      const start = performance.now();
      await client.dispatcher(jobBatch('pkg_queue', `s${round}-`, count,
        'true'));
      await watch.until(() => watch.finished.size === count,
        `${count} jobs to finish`);
      measured.push(count / ((performance.now() - start) / 1000));
      cores.push(cpu.read());
      context.note(`round ${round + 1}: ${loop.rate.toFixed(0)} ` +
        `spawns/s, ${measured[round].toFixed(0)} jobs/s`);

      // Ids sort in submission order, which is the order they ran in.
      const commands = jobIds(`s${round}-`, count)
        .map((id) => watch.finished.get(id)!.commands[0]);
      for (let i = 1; i < commands.length; i++) {
        const gap = commands[i].started_at - commands[i - 1].finished_at;
        if (gap < 0) overlaps++;
        gaps.push(gap);
      }
    }

    return {
      figures: [
        figure({
          measure: `${count} jobs, jobs/s (median of ${repeats})`,
          value: median(measured),
          unit: 'jobs/s',
          baseline: median(baseline),
          baselineLabel: 'serial spawn loop',
          target: { on: 'ratio', op: '>=', limit: 0.9 }
        }, context.quick),
        figure({
          measure: 'median gap, exit → next spawn',
          value: median(gaps),
          unit: 'ms',
          baseline: median(baselineGaps),
          baselineLabel: 'serial spawn loop: close → spawn',
          target: { on: 'value', op: '<', limit: 1 }
        }, context.quick)
      ],
      details: {
        count,
        measured,
        baseline,
        serverCores: cores,
        gapP90: percentile(gaps, 90),
        gapP99: percentile(gaps, 99),
        gapMax: percentile(gaps, 100),
        overlaps,
        baselineGapP99: percentile(baselineGaps, 99)
      }
    } satisfies ScenarioReport;
  })
};
