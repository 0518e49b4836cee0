/**
 * The benchmark suite runs end to end: one `--quick` run, as a separate
 * process, against real servers. Only that it works is checked here:
 * every scenario produces numbers, no event is lost, nothing is left
 * running. Timings depend on the machine and are never asserted.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { markedProcesses } from '../../bench/harness/processes.js';

const runner = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

/** Longest the quick run may take before it is ended, ms. */
const RUN_TIMEOUT_MS = 120_000;

const scenarioIds = [
  'idle', 'requests', 'parallel', 'serial', 'subscribers', 'kill-tree',
  'enqueue', 'list', 'kill-pending', 'output'
];

interface Results {
  mode: string;
  marker: string;
  strays: number;
  scenarios: Array<{
    id: string;
    error?: string;
    lost?: number;
    figures?: Array<{
      measure: string;
      value: number;
      unit: string;
      baseline: number | null;
      met: boolean | null;
    }>;
  }>;
}

describe('quick benchmark run', function () {
  this.timeout(RUN_TIMEOUT_MS + 10_000);
  let dir: string;
  let exitCode: number | null;
  let results: Results;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'dispatcher-bench-spec-'));
    const jsonOut = join(dir, 'quick.json');
    // execFile's timeout sends SIGTERM, on which the runner stops its
    // servers before it exits.
    exitCode = await new Promise((resolve) => {
      const child = execFile(process.execPath,
        [runner, '--quick', '--json-out', jsonOut],
        { timeout: RUN_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
        () => resolve(child.exitCode));
    });
    results = JSON.parse(await readFile(jsonOut, 'utf8')) as Results;
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 with every scenario run', function () {
    expect(exitCode).to.equal(0);
    expect(results.mode).to.equal('quick');
    expect(results.scenarios.map((s) => s.id)).to.deep.equal(scenarioIds);
    for (const scenario of results.scenarios) {
      expect(scenario.error, scenario.id).to.equal(undefined);
    }
  });

  it('gives every figure a finite value and baseline', function () {
    for (const scenario of results.scenarios) {
      expect(scenario.figures, scenario.id).to.be.an('array').that.is.not
        .empty;
      for (const figure of scenario.figures!) {
        const name = `${scenario.id}: ${figure.measure}`;
        expect(Number.isFinite(figure.value), name).to.equal(true);
        expect(figure.unit, name).to.be.a('string').that.is.not.empty;
        expect(Number.isFinite(figure.baseline), name).to.equal(true);
      }
    }
  });

  it('judges no target in quick mode', function () {
    for (const scenario of results.scenarios) {
      for (const figure of scenario.figures ?? []) {
        expect(figure.met, `${scenario.id}: ${figure.measure}`)
          .to.equal(null);
      }
    }
  });

  it('loses no event between the server and its subscribers', function () {
    const subscribers = results.scenarios
      .find((scenario) => scenario.id === 'subscribers')!;
    expect(subscribers.lost).to.equal(0);
    const lost = subscribers.figures!
      .find((figure) => figure.measure.startsWith('events lost'))!;
    expect(lost.value).to.equal(0);
  });

  it('leaves no server or command running', function () {
    expect(results.strays).to.equal(0);
    expect(markedProcesses(results.marker)).to.deep.equal([]);
  });
});
