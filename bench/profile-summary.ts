/**
 * Reads a V8 CPU profile (`--cpu-prof`, see `run.js --profile`) and
 * prints where the time went: the functions with the most self time and
 * the most total time (self plus callees), with file and line.
 *
 *     node dist/bench/profile-summary.js FILE.cpuprofile [--top N]
 *                                        [--callers NAME]
 *
 * `--callers NAME` shows instead where the self time of the functions
 * named NAME comes from: the nearest callers in the server's own code
 * (`lib/`, `machines/`), else in a package, with their share.
 *
 * Idle time is left out of the percentages: they are shares of the time
 * the server was busy.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The frame of idle time. */
const IDLE = '(idle)';

/** Files of the server itself, as compiled. */
const OUR_CODE = /\/dist\/(lib|machines)\//;

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '25' },
      callers: { type: 'string' }
    }
  });
  if (positionals.length !== 1) {
    console.error('usage: profile-summary FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(positionals[0], 'utf8')) as
    Profile;
  const top = Number(values.top);

  const { self, total, busy, idle } = summarise(profile);
  console.log(`busy ${ms(busy)}, idle ${ms(idle)}\n`);
  if (values.callers !== undefined) {
    print(`self time of ${values.callers}, by nearest caller`,
      callers(profile, values.callers), busy, top);
    return;
  }
  print('self time', self, busy, top);
  print('total time (self + callees)', total, busy, top);
}

/**
 * Self time of the functions named `name`, keyed by the nearest frame
 * of the server's own code above them, or of a package.
 */
function callers(profile: Profile, name: string): Map<string, number> {
  const parent = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node);
  }
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const times = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    if (node.callFrame.functionName !== name) return;
    // Our nearest frame; failing that (a callback from a package or
    // from Node.js itself), the package's nearest one.
    let ours: ProfileNode | undefined;
    let other: ProfileNode | undefined;
    for (let up = parent.get(id); up && !ours; up = parent.get(up.id)) {
      const { url } = up.callFrame;
      if (OUR_CODE.test(url)) ours = up;
      else if (!other && url && !url.startsWith('node:')) other = up;
    }
    const found = ours ?? other;
    const key = found ? frameKey(found.callFrame) : '(Node.js internals)';
    times.set(key, (times.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return times;
}

/** Self and total microseconds per function, keyed by name and place. */
function summarise(profile: Profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const nodeSelf = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    nodeSelf.set(id, (nodeSelf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  // Iterative walk; each function counts once per stack, so recursion
  // is not counted twice in its total.
  const root = profile.nodes[0];
  const stack: Array<{ node: ProfileNode; keys: Map<string, number> }> =
    [{ node: root, keys: new Map() }];
  while (stack.length > 0) {
    const { node, keys } = stack.pop()!;
    const key = frameKey(node.callFrame);
    const onStack = new Map(keys);
    onStack.set(key, (onStack.get(key) ?? 0) + 1);
    const time = nodeSelf.get(node.id) ?? 0;
    if (node.callFrame.functionName === IDLE) {
      idle += time;
    } else {
      busy += time;
      self.set(key, (self.get(key) ?? 0) + time);
      for (const seen of onStack.keys()) {
        total.set(seen, (total.get(seen) ?? 0) + time);
      }
    }
    for (const child of node.children ?? []) {
      stack.push({ node: byId.get(child)!, keys: onStack });
    }
  }
  total.delete(frameKey(root.callFrame));
  return { self, total, busy, idle };
}

function frameKey(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const file = frame.url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/dist\//, '');
  return `${name}  ${file}:${frame.lineNumber + 1}`;
}

function print(
  title: string,
  times: Map<string, number>,
  busy: number,
  top: number
): void {
  console.log(title);
  const rows = [...times].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, time] of rows) {
    const share = ((100 * time) / busy).toFixed(1).padStart(5);
    console.log(`  ${share} %  ${ms(time).padStart(9)}  ${key}`);
  }
  console.log('');
}

function ms(microseconds: number): string {
  return `${(microseconds / 1000).toFixed(1)} ms`;
}

main();
