/**
 * The machine a run measured: every figure is only comparable with
 * figures from the same machine.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  /** Processors this process may use, as `nproc` counts them. */
  nproc: number;
  cpuModel: string;
  /** Total memory, bytes. */
  memoryBytes: number;
  node: string;
  kernel: string;
  /** 1, 5 and 15 minute load averages when the run began. */
  loadAverage: number[];
}

export function describeMachine(): Machine {
  return {
    nproc: availableParallelism(),
    cpuModel: cpuModel(),
    memoryBytes: totalmem(),
    node: process.version,
    kernel: release(),
    loadAverage: loadavg()
  };
}

function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
