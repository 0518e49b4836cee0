// Draws a machine description (from `debug/subscribe`) as nested SVG
// boxes: compound states hold their children, in a row at even depths
// and in a column at odd ones; transitions are curved arrows between
// boxes, and also listed in words below the picture.

const SVG = 'http://www.w3.org/2000/svg';
const PAD = 8;
const HEADER = 18;
const GAP = 26;
const LEAF_HEIGHT = 30;

/** Size and child positions of a state box, relative to its corner. */
function layout(state, depth) {
  if (state.states.length === 0) {
    const width = Math.max(72, state.key.length * 7 + 28);
    return { state, width, height: LEAF_HEIGHT, children: [] };
  }
  const row = depth % 2 === 0;
  const children = [];
  let x = PAD;
  let y = HEADER;
  let width = 0;
  let height = 0;
  for (const child of state.states) {
    const box = layout(child, depth + 1);
    children.push({ x, y, box });
    if (row) {
      x += box.width + GAP;
      height = Math.max(height, box.height);
    } else {
      y += box.height + GAP / 2;
      width = Math.max(width, box.width);
    }
  }
  const inner = row
    ? { width: x - GAP - PAD, height }
    : { width, height: y - GAP / 2 - HEADER };
  return {
    state,
    width: Math.max(inner.width + 2 * PAD, state.key.length * 7 + 20),
    height: inner.height + HEADER + PAD,
    children
  };
}

function element(name, attributes, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) {
    node.setAttribute(key, String(value));
  }
  parent?.appendChild(node);
  return node;
}

/** Draws boxes; fills `places` with each state's absolute rectangle. */
function drawBox(box, x, y, parent, places) {
  const { state } = box;
  const group = element('g', {
    class: `state ${state.type}`,
    'data-state-id': state.id
  }, parent);
  element('rect', {
    x, y, width: box.width, height: box.height, rx: 6
  }, group);
  const leaf = box.children.length === 0;
  const label = element('text', {
    x: x + 8, y: leaf ? y + 19 : y + 13
  }, group);
  label.textContent = state.key;
  const count = element('text', {
    class: 'count', x: x + box.width - 8, y: leaf ? y + 19 : y + 13,
    'text-anchor': 'end'
  }, group);
  count.textContent = '';
  places.set(state.id, { x, y, width: box.width, height: box.height });
  for (const child of box.children) {
    drawBox(child.box, x + child.x, y + child.y, group, places);
  }
}

/** A curved arrow from one box to another, labelled with its event. */
function drawEdge(from, to, label, parent, index, marker) {
  const group = element('g', { class: 'edge' }, parent);
  const start = { x: from.x + from.width / 2, y: from.y + from.height };
  const end = { x: to.x + to.width / 2, y: to.y + to.height };
  const bow = 24 + (index % 3) * 12;
  const middle = {
    x: (start.x + end.x) / 2,
    y: Math.max(start.y, end.y) + bow
  };
  element('path', {
    d: `M${start.x},${start.y} Q${middle.x},${middle.y} ${end.x},${end.y}`,
    fill: 'none', stroke: '#557', 'marker-end': `url(#${marker})`
  }, group);
  const text = element('text', {
    x: middle.x, y: middle.y - bow / 2 + 4, 'text-anchor': 'middle'
  }, group);
  text.textContent = label;
}

function collectTransitions(state, list) {
  for (const transition of state.transitions) {
    list.push({ source: state.id, ...transition });
  }
  for (const child of state.states) collectTransitions(child, list);
  return list;
}

/**
 * An element showing the machine: its SVG and the list of transitions.
 * `machine` is `{ name, root }` as `debug/subscribe` sends it.
 */
export function drawMachine(machine) {
  const box = layout(machine.root, 0);
  const transitions = collectTransitions(machine.root, []);
  const arrows = transitions.filter((t) => t.targets.length > 0 &&
    t.targets[0] !== t.source);
  const margin = 48;
  const figure = document.createElement('div');
  figure.className = 'machine';
  figure.dataset.machine = machine.name;
  const title = document.createElement('h3');
  title.textContent = `${machine.name} machine`;
  figure.appendChild(title);
  const svg = element('svg', {
    width: box.width + 2, height: box.height + margin,
    viewBox: `-1 -1 ${box.width + 2} ${box.height + margin}`
  });
  const defs = element('defs', {}, svg);
  const marker = element('marker', {
    id: `arrow-${machine.name}`, viewBox: '0 0 10 10', refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse'
  }, defs);
  element('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#557' }, marker);
  const places = new Map();
  drawBox(box, 0, 0, svg, places);
  arrows.forEach((transition, index) => {
    const from = places.get(transition.source);
    const to = places.get(transition.targets[0]);
    if (from && to) {
      drawEdge(from, to, transition.event, svg, index,
        `arrow-${machine.name}`);
    }
  });
  figure.appendChild(svg);
  const list = document.createElement('ul');
  list.className = 'transitions';
  for (const t of transitions) {
    const item = document.createElement('li');
    const targets = t.targets.length ? t.targets.join(', ') : '(stays)';
    const guard = t.guard ? ` [${t.guard}]` : '';
    item.textContent = `${t.source} —${t.event}${guard}→ ${targets}`;
    list.appendChild(item);
  }
  figure.appendChild(list);
  return figure;
}

/** Ids of the states a state value is in: 'a' or {a: {b: 'c'}}. */
export function activeIds(rootId, value) {
  const ids = [rootId];
  const walk = (prefix, current) => {
    if (typeof current === 'string') {
      ids.push(`${prefix}.${current}`);
      return;
    }
    for (const [key, inner] of Object.entries(current)) {
      ids.push(`${prefix}.${key}`);
      walk(`${prefix}.${key}`, inner);
    }
  };
  walk(rootId, value);
  return ids;
}

/** Lights up states holding live actors, with how many are in each. */
export function highlight(figure, rootId, values) {
  const counts = new Map();
  for (const value of values) {
    for (const id of activeIds(rootId, value)) {
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  for (const group of figure.querySelectorAll('g.state')) {
    const count = counts.get(group.dataset.stateId) ?? 0;
    group.classList.toggle('active', count > 0);
    group.querySelector(':scope > text.count').textContent =
      count > 0 ? `×${count}` : '';
  }
}
