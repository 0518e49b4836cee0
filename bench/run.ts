/**
 * The benchmark suite's entry point.
 *
 *     node dist/bench/run.js [--quick] [--only ID,...] [--json-out FILE]
 *                            [--profile] [--heap] [--markdown]
 *     node dist/bench/run.js --report FILE [--markdown]
 *
 * Runs each scenario against a real server process over its WebSocket
 * API, prints the table, and writes every figure and the raw numbers
 * behind it as JSON (default `bench/results/latest.json`, or
 * `bench/results/quick.json` with `--quick`, so a quick run never
 * overwrites a full one).
 *
 * - `--quick`: small counts, a few seconds; targets are not judged.
 * - `--profile`: each server writes a CPU profile (`--cpu-prof`) into
 *   `bench/results/profiles/`; read one with `profile-summary.js`.
 *   `BENCH_PROFILE=1` does the same.
 * - `--heap`: the memory scenarios take heap snapshots at their peak,
 *   into `bench/results/heap/`. `BENCH_HEAP=1` does the same.
 * - `--markdown`: the table in Markdown, as docs/performance.md has it.
 * - `--report FILE`: runs nothing; prints the table of a results file.
 *
 * Missed targets do not change the exit status; a scenario that fails
 * to run does (1). Every server and command started is ended on the way
 * out, whatever happens.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { stopAllEchoServers } from './harness/echo.js';
import { describeMachine } from './harness/machine.js';
import { killMarkedProcesses, marker } from './harness/processes.js';
import type { BenchContext, Scenario, ScenarioReport } from
  './harness/scenario.js';
import { repoRoot, stopAllServers } from './harness/server.js';
import { formatTable } from './harness/table.js';
import { enqueue } from './scenarios/enqueue.js';
import { idle } from './scenarios/idle.js';
import { killPending } from './scenarios/kill-pending.js';
import { killTree } from './scenarios/kill-tree.js';
import { list } from './scenarios/list.js';
import { output } from './scenarios/output.js';
import { parallel } from './scenarios/parallel.js';
import { requests } from './scenarios/requests.js';
import { serial } from './scenarios/serial.js';
import { subscribers } from './scenarios/subscribers.js';

/** In run order: the cheap and memory-sensitive ones first. */
const scenarios: Scenario[] = [
  idle, requests, parallel, serial, subscribers, killTree, enqueue, list,
  killPending, output
];

const resultsDir = join(repoRoot, 'bench/results');

interface Outcome extends Partial<ScenarioReport> {
  id: string;
  title: string;
  ms: number;
  error?: string;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'json-out': { type: 'string' },
      profile: { type: 'boolean', default: !!process.env.BENCH_PROFILE },
      heap: { type: 'boolean', default: !!process.env.BENCH_HEAP },
      markdown: { type: 'boolean', default: false },
      report: { type: 'string' }
    }
  });
  const style = values.markdown ? 'markdown' : 'text';
  if (values.report !== undefined) {
    const saved = JSON.parse(readFileSync(values.report, 'utf8')) as {
      scenarios: Outcome[];
    };
    console.log(formatTable(saved.scenarios, style));
    return 0;
  }
  const quick = values.quick!;
  const selected = pick(values.only);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const context: BenchContext = {
    quick,
    profileDir: values.profile ? join(resultsDir, 'profiles', stamp) : null,
    heapDir: values.heap ? join(resultsDir, 'heap', stamp) : null,
    note: (message) => console.error(`    ${message}`)
  };
  const jsonOut = resolve(values['json-out'] ??
    join(resultsDir, quick ? 'quick.json' : 'latest.json'));

  const machine = describeMachine();
  const startedAt = new Date();
  console.error(`dispatcher bench (${quick ? 'quick' : 'full'}), ` +
    `${machine.nproc} × ${machine.cpuModel}, Node ${machine.node}`);

  const outcomes: Outcome[] = [];
  for (const scenario of selected) {
    console.error(`  ${scenario.id}: ${scenario.title}`);
    outcomes.push(await runOne(scenario, context));
  }
  const strays = await cleanUp();

  const table = formatTable(outcomes, style);
  console.log(`\n${table}\n`);
  if (context.profileDir) console.log(`CPU profiles: ${context.profileDir}`);
  if (context.heapDir) console.log(`heap snapshots: ${context.heapDir}`);

  mkdirSync(dirname(jsonOut), { recursive: true });
  writeFileSync(jsonOut, `${JSON.stringify({
    mode: quick ? 'quick' : 'full',
    marker,
    machine,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    strays,
    scenarios: outcomes
  }, null, 2)}\n`);
  console.log(`results: ${jsonOut}`);
  return outcomes.some((outcome) => outcome.error !== undefined) ? 1 : 0;
}

function pick(only: string | undefined): Scenario[] {
  if (only === undefined) return scenarios;
  const ids = only.split(',').map((id) => id.trim());
  const unknown = ids.filter((id) => !scenarios.some((s) => s.id === id));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ` +
      scenarios.map((s) => s.id).join(', '));
  }
  return scenarios.filter((scenario) => ids.includes(scenario.id));
}

/** Runs one scenario; a failure is recorded, and the run goes on. */
async function runOne(
  scenario: Scenario,
  context: BenchContext
): Promise<Outcome> {
  const start = performance.now();
  const base = { id: scenario.id, title: scenario.title };
  try {
    const report = await scenario.run(context);
    return { ...base, ms: performance.now() - start, ...report };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`    failed: ${message}`);
    return { ...base, ms: performance.now() - start, error: message };
  } finally {
    // A scenario that failed half-way may have left servers behind.
    await stopAllServers();
    await stopAllEchoServers();
  }
}

/**
 * Stops whatever is still running and ends any process of this run that
 * survived it.
 *
 * @returns how many processes had to be ended that way
 */
async function cleanUp(): Promise<number> {
  await stopAllServers();
  await stopAllEchoServers();
  return killMarkedProcesses();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping servers`);
    void cleanUp().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : error}`);
    await cleanUp();
    process.exit(1);
  }
);
