/**
 * The machines as data for the debugging page: each state with its
 * children and its transitions, read from the machine objects themselves
 * (`machine.root`), so the picture cannot drift from the code.
 */
import type { AnyStateMachine } from 'xstate';

import { jobMachine } from '../../machines/job.js';
import { queueMachine } from '../../machines/queue.js';
import { supervisorMachine } from '../../machines/supervisor.js';

/** One transition out of a state. */
export interface TransitionInfo {
  /** The event name, `after <delay>` or `always`. */
  event: string;
  kind: 'on' | 'after' | 'always';
  /** Ids of the target states; empty for a transition that stays. */
  targets: string[];
  /** The guard's name, if any. */
  guard: string | null;
}

/** One state node, with its children. */
export interface StateInfo {
  /** Dotted id, e.g. `job.running.command`. */
  id: string;
  key: string;
  type: string;
  /** Key of the initial child, for compound states. */
  initial: string | null;
  transitions: TransitionInfo[];
  states: StateInfo[];
}

/** A machine: its name and its root state. */
export interface MachineInfo {
  name: 'supervisor' | 'queue' | 'job';
  root: StateInfo;
}

// Structural view of the parts of XState's StateNode read here, so that
// its deep generic types do not leak into this module.
interface NodeView {
  id: string;
  key: string;
  type: string;
  initial?: { target?: readonly NodeView[] };
  states: Record<string, NodeView>;
  transitions: Map<string, readonly TransitionView[]>;
  always?: readonly TransitionView[];
  after: readonly { eventType: string; delay: string | number }[];
}

interface TransitionView {
  target?: readonly NodeView[];
  guard?: unknown;
}

/** The three machines of the dispatcher, described. */
export function describeMachines(): MachineInfo[] {
  return [
    { name: 'supervisor', root: describeMachine(supervisorMachine) },
    { name: 'queue', root: describeMachine(queueMachine) },
    { name: 'job', root: describeMachine(jobMachine) }
  ];
}

/** One machine's states and transitions, from its definition. */
export function describeMachine(machine: AnyStateMachine): StateInfo {
  return describeNode(machine.root as unknown as NodeView);
}

function describeNode(node: NodeView): StateInfo {
  const delays = new Map(
    node.after.map((entry) => [entry.eventType, entry.delay])
  );
  const transitions: TransitionInfo[] = [];
  for (const [event, list] of node.transitions) {
    const delay = delays.get(event);
    for (const transition of list) {
      transitions.push(delay === undefined
        ? describeTransition(event, 'on', transition)
        : describeTransition(`after ${delay}`, 'after', transition));
    }
  }
  for (const transition of node.always ?? []) {
    transitions.push(describeTransition('always', 'always', transition));
  }
  return {
    id: node.id,
    key: node.key,
    type: node.type,
    initial: node.initial?.target?.[0]?.key ?? null,
    transitions,
    states: Object.values(node.states).map(describeNode)
  };
}

function describeTransition(
  event: string,
  kind: TransitionInfo['kind'],
  transition: TransitionView
): TransitionInfo {
  return {
    event,
    kind,
    targets: (transition.target ?? []).map((target) => target.id),
    guard: guardName(transition.guard)
  };
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && 'type' in guard) {
    return String((guard as { type: unknown }).type);
  }
  return 'guard';
}
