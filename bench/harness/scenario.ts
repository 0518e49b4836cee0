/**
 * What a scenario is and what it reports.
 *
 * Every figure carries its absolute value, the baseline measured in the
 * same run on the same machine, their ratio, and the target it is
 * judged against. Targets are judged only in a full run: the small
 * counts of `--quick` say nothing about speed.
 */

/** What scenarios are given. */
export interface BenchContext {
  /** Small counts; targets are not judged. */
  quick: boolean;
  /** Where servers write CPU profiles; null for none. */
  profileDir: string | null;
  /** Where servers write heap snapshots; null for none. */
  heapDir: string | null;
  /** Prints a progress line. */
  note(message: string): void;
}

/** One benchmark: starts its own servers and stops them, even failing. */
export interface Scenario {
  /** Short id, used by `--only` and in profile file names. */
  id: string;
  /** One line: what is measured. */
  title: string;
  run(context: BenchContext): Promise<ScenarioReport>;
}

/** A limit on a figure's value, or on its ratio to the baseline. */
export interface Target {
  on: 'value' | 'ratio';
  op: '<' | '<=' | '>=' | '==';
  limit: number;
}

/** One measured number. */
export interface Figure {
  /** What it is, e.g. `jobs/s`. */
  measure: string;
  value: number;
  unit: string;
  /** The baseline's value, in the same unit; null when there is none. */
  baseline: number | null;
  /** What the baseline is. */
  baselineLabel: string;
  /** value / baseline. */
  ratio: number | null;
  target: Target | null;
  /** Whether the target is met; null when not judged. */
  met: boolean | null;
}

export interface ScenarioReport {
  figures: Figure[];
  /** Events a subscriber should have had and did not; 0 for none. */
  lost?: number;
  /** Raw numbers behind the figures, for the JSON file. */
  details: Record<string, unknown>;
}

/** The fields a scenario gives for one figure. */
export interface FigureSpec {
  measure: string;
  value: number;
  unit: string;
  baseline?: number | null;
  baselineLabel?: string;
  target?: Target | null;
}

/**
 * Builds a figure; judges its target unless `quick`.
 */
export function figure(spec: FigureSpec, quick: boolean): Figure {
  const baseline = spec.baseline ?? null;
  const ratio = baseline === null || baseline === 0
    ? null
    : spec.value / baseline;
  const target = spec.target ?? null;
  return {
    measure: spec.measure,
    value: spec.value,
    unit: spec.unit,
    baseline,
    baselineLabel: spec.baselineLabel ?? '',
    ratio,
    target,
    met: target === null || quick ? null : judge(target, spec.value, ratio)
  };
}

function judge(target: Target, value: number, ratio: number | null): boolean {
  const subject = target.on === 'value' ? value : ratio;
  if (subject === null || !Number.isFinite(subject)) return false;
  switch (target.op) {
    case '<': return subject < target.limit;
    case '<=': return subject <= target.limit;
    case '>=': return subject >= target.limit;
    case '==': return subject === target.limit;
  }
}

/** The target as text, e.g. `ratio ≥ 0.85` or `< 5 ms`. */
export function targetText(target: Target | null, unit: string): string {
  if (!target) return '';
  const op = { '<': '<', '<=': '≤', '>=': '≥', '==': '=' }[target.op];
  return target.on === 'ratio'
    ? `ratio ${op} ${target.limit}`
    : `${op} ${target.limit} ${unit}`.trimEnd();
}

/**
 * Runs `work`, then stops every resource it passed to `track`, last
 * first, whether or not it threw: a failing scenario still stops its
 * servers.
 */
export async function using<T>(
  work: (track: <R extends Stoppable>(resource: R) => R) => Promise<T>
): Promise<T> {
  const resources: Stoppable[] = [];
  try {
    return await work((resource) => {
      resources.push(resource);
      return resource;
    });
  } finally {
    for (const resource of resources.reverse()) await resource.stop();
  }
}

/** Anything that must be stopped when a scenario ends. */
export interface Stoppable {
  stop(): Promise<void>;
}
