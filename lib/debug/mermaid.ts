/**
 * The machines as Mermaid state diagrams, generated from their
 * definitions (see machines.ts), for docs/machines.md. Transitions that
 * stay in their state are left out of the picture; the page at /debug/
 * lists them.
 */
import type { MachineInfo, StateInfo } from './machines.js';

/** Mermaid has no dots in state names: `job.running` → `job_running`. */
function name(id: string): string {
  return id.replace(/\./g, '_');
}

function label(transition: { event: string; guard: string | null }) {
  return transition.guard
    ? `${transition.event} [${transition.guard}]`
    : transition.event;
}

function declare(state: StateInfo, depth: number, lines: string[]): void {
  const pad = '  '.repeat(depth);
  if (state.states.length === 0) {
    lines.push(`${pad}state "${state.key}" as ${name(state.id)}`);
    if (state.type === 'final') {
      lines.push(`${pad}${name(state.id)} --> [*]`);
    }
    return;
  }
  lines.push(`${pad}state "${state.key}" as ${name(state.id)} {`);
  const initial = state.states.find((child) => child.key === state.initial);
  if (initial) lines.push(`${pad}  [*] --> ${name(initial.id)}`);
  for (const child of state.states) declare(child, depth + 1, lines);
  lines.push(`${pad}}`);
}

function edges(state: StateInfo, lines: string[]): void {
  for (const transition of state.transitions) {
    for (const target of transition.targets) {
      const from = name(state.id);
      lines.push(`  ${from} --> ${name(target)}: ${label(transition)}`);
    }
  }
  for (const child of state.states) edges(child, lines);
}

/** One machine as a `stateDiagram-v2`. */
export function toMermaid(machine: MachineInfo): string {
  const lines = ['stateDiagram-v2'];
  const { root } = machine;
  const initial = root.states.find((child) => child.key === root.initial);
  if (initial) lines.push(`  [*] --> ${name(initial.id)}`);
  for (const child of root.states) declare(child, 1, lines);
  edges(root, lines);
  return lines.join('\n');
}
