/**
 * How the client commands print: aligned tables, colour only for a
 * terminal, and durations, sizes and usage in a few characters.
 */
import Table from 'cli-table3';
import picocolors from 'picocolors';

/** The colour functions, or pass-through ones when colour is off. */
export type Colours = ReturnType<typeof picocolors.createColors>;

/**
 * True when `stream` should get colour: `NO_COLOR` (any non-empty value)
 * turns it off, `FORCE_COLOR` (anything but `0`) turns it on, and
 * otherwise only a terminal gets it, so piped output stays plain.
 */
export function wantColour(
  stream: { isTTY?: boolean } = process.stdout,
  env = process.env
): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') {
    return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  }
  return stream.isTTY === true;
}

/** Colour functions for standard output, per `wantColour`. */
export function colours(): Colours {
  return picocolors.createColors(wantColour());
}

/**
 * Lays rows out in columns two spaces apart, with no borders. The head
 * is printed in bold when colour is on. Trailing blanks are trimmed, so
 * a piped table has none.
 */
export function table(head: string[], rows: string[][], c: Colours): string {
  const layout = new Table({
    head: head.map((title) => c.bold(title)),
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: '  '
    },
    // Colour is ours to choose (see wantColour), not the library's.
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [] }
  });
  layout.push(...rows);
  return layout.toString().split('\n')
    .map((line) => line.trimEnd()).join('\n');
}

/** Colours a job state or outcome by how it is going. */
export function paint(word: string, c: Colours): string {
  switch (word) {
    case 'running':
    case 'success':
      return c.green(word);
    case 'pending':
      return c.yellow(word);
    case 'failure':
    case 'interrupted':
      return c.red(word);
    case 'killed':
      return c.magenta(word);
    default:
      return word;
  }
}

/**
 * Time since an ISO 8601 instant, as `45s`, `3m07s` or `2h05m`; `-` for
 * none. `now` is in ms since the epoch.
 */
export function elapsed(since: string | null | undefined, now = Date.now()) {
  const start = since ? Date.parse(since) : NaN;
  if (Number.isNaN(start)) return '-';
  return duration(Math.max(0, now - start));
}

/** A duration in ms, as `elapsed` writes it. */
export function duration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (minutes < 60) return `${minutes}m${pad(seconds % 60)}s`;
  return `${Math.floor(minutes / 60)}h${pad(minutes % 60)}m`;
}

/** A byte count in binary units: `512 B`, `3.4 MiB`. */
export function bytes(count: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** The usage fields of a running job, as the server may send them. */
export interface Usage {
  cpu_percent?: number | null;
  memory_bytes?: number | null;
  usage_error?: unknown;
}

/**
 * CPU and memory cells of a job: `-` when the server sent no sample,
 * `?` when sampling failed (the reason is in `--json`, `usage_error`).
 */
export function usageCells(job: Usage): [string, string] {
  if (job.usage_error !== undefined && job.usage_error !== null) {
    return ['?', '?'];
  }
  const cpu = typeof job.cpu_percent === 'number'
    ? `${job.cpu_percent.toFixed(1)}%` : '-';
  const memory = typeof job.memory_bytes === 'number'
    ? bytes(job.memory_bytes) : '-';
  return [cpu, memory];
}

/**
 * Text from a job or a user with control characters shown as escapes,
 * so it cannot move the cursor or recolour the terminal. Tabs and
 * newlines are kept only when `keepNewlines` is set (job output).
 */
export function visible(text: string, keepNewlines = false): string {
  const controls = keepNewlines
    ? /[\x00-\x08\x0b-\x1f\x7f\x9b]/g
    : /[\x00-\x1f\x7f\x9b]/g;
  return text.replace(controls,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * What an output event without its text says: how much the server
 * withheld (this client fell behind), and where to read it.
 */
export function skippedNote(event: {
  process_id?: unknown;
  skipped_bytes?: unknown;
}): string {
  return `[${bytes(Number(event.skipped_bytes))} of output skipped; ` +
    `'dispatcher logs ${visible(String(event.process_id))}' has it]`;
}
