/**
 * The results table, as aligned text for the terminal or as Markdown
 * for docs/performance.md.
 */
import { targetText, type Figure } from './scenario.js';

/** One scenario's outcome as the table shows it. */
export interface TableScenario {
  id: string;
  /** Absent when the scenario failed. */
  figures?: Figure[];
  error?: string;
}

const HEADER = ['scenario', 'measure', 'value', 'baseline', 'ratio',
  'target', 'status'];

/** Formats all figures, one row each. */
export function formatTable(
  scenarios: TableScenario[],
  style: 'text' | 'markdown'
): string {
  const rows: string[][] = [];
  for (const scenario of scenarios) {
    if (scenario.error !== undefined || !scenario.figures) {
      const failure = `failed: ${scenario.error ?? 'no figures'}`;
      rows.push([scenario.id, failure, '', '', '', '', 'ERROR']);
      continue;
    }
    for (const figure of scenario.figures) rows.push(row(scenario.id, figure));
  }
  return style === 'markdown' ? markdown(rows) : text(rows);
}

function row(id: string, figure: Figure): string[] {
  const unit = figure.unit;
  return [
    id,
    figure.measure,
    withUnit(figure.value, unit),
    figure.baseline === null
      ? ''
      : `${withUnit(figure.baseline, unit)} (${figure.baselineLabel})`,
    figure.ratio === null ? '' : number(figure.ratio),
    targetText(figure.target, unit),
    figure.met === null ? (figure.target ? 'not judged' : '')
      : figure.met ? 'met' : 'MISSED'
  ];
}

/** A number with about three significant digits. */
export function number(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const size = Math.abs(value);
  if (size >= 100 || Number.isInteger(value)) return value.toFixed(0);
  if (size >= 10) return value.toFixed(1);
  if (size >= 0.1) return value.toFixed(2);
  return value.toPrecision(2);
}

function withUnit(value: number, unit: string): string {
  return unit === '×' ? `${number(value)}×` : `${number(value)} ${unit}`;
}

function text(rows: string[][]): string {
  const all = [HEADER, ...rows];
  const widths = HEADER.map((_, column) =>
    Math.max(...all.map((cells) => cells[column].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(HEADER), rule, ...rows.map(line)].join('\n');
}

function markdown(rows: string[][]): string {
  const line = (cells: string[]) =>
    `| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...rows.map(line)]
    .join('\n');
}
