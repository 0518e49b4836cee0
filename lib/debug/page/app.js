// The debugging page: logs in over the WebSocket, subscribes to
// `debug/subscribe`, draws the machines and keeps the live actors and
// their highlighted states up to date. It holds no data of its own.
import { activeIds, drawMachine, highlight } from './diagram.js';

/** Finished jobs kept in the list, so their last state stays visible. */
const KEEP_FINISHED = 20;
/** How often the selected job's output is fetched again, ms. */
const JOB_REFRESH_MS = 1000;

const $ = (selector) => document.querySelector(selector);
const actors = new Map();
const finished = [];
const figures = new Map();
const pending = new Map();
let socket = null;
let nextId = 1;
let selected = null;

function request(namespace, name, args) {
  const id = nextId++;
  socket.send(JSON.stringify({ namespace, name, id, args }));
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
  });
}

function setStatus(text, error = false) {
  $('#status').textContent = text;
  $('#status').classList.toggle('error', error);
}

async function connect(username, password) {
  const config = await (await fetch('config.json')).json();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  socket = new WebSocket(`${scheme}://${location.hostname}:${config.wsPort}`);
  socket.addEventListener('message', (event) => receive(event.data));
  socket.addEventListener('close', () => setStatus('disconnected', true));
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', () => reject(
      new Error('cannot reach the WebSocket port')), { once: true });
  });
  await request('rpc', 'auth', { username, password });
  const state = await request('debug', 'subscribe', {});
  start(state);
}

function receive(text) {
  const message = JSON.parse(text);
  if (message.namespace === 'debug' && message.name === 'actors') {
    update(message.args);
    return;
  }
  const waiting = pending.get(message.id);
  if (!waiting) return;
  pending.delete(message.id);
  if (message.name === 'error') {
    waiting.reject(new Error(message.args.message ?? message.args.error));
  } else {
    waiting.resolve(message.args);
  }
}

function start({ machines, actors: initial, queues }) {
  $('#login').hidden = true;
  $('#main').hidden = false;
  setStatus('live');
  for (const machine of machines) {
    const figure = drawMachine(machine);
    figures.set(machine.name, { figure, rootId: machine.root.id });
    $('#machines').appendChild(figure);
  }
  update({ actors: initial, queues });
}

function update({ actors: changed, queues }) {
  for (const actor of changed) {
    const key = `${actor.kind}:${actor.id}`;
    const known = actors.get(key);
    const history = known ? known.history : [];
    for (const value of [...actor.passed, actor.value]) {
      const name = stateName(value);
      if (history.at(-1) !== name) history.push(name);
    }
    actors.set(key, { ...actor, history });
    if (actor.kind === 'job' && actor.status !== 'active') {
      finished.push(key);
      while (finished.length > KEEP_FINISHED) actors.delete(finished.shift());
    }
  }
  const counts = Object.entries(queues).map(([name, sizes]) =>
    `${name}: ${sizes.running} running, ${sizes.pending} pending`);
  $('#counts').textContent = counts.join(' · ');
  render();
}

/** 'running.command.working' for {running: {command: 'working'}}. */
function stateName(value) {
  const ids = activeIds('', value);
  return ids[ids.length - 1].slice(1);
}

function render() {
  const body = $('#actors tbody');
  body.replaceChildren();
  for (const [key, actor] of actors) {
    const row = document.createElement('tr');
    row.dataset.actor = key;
    row.dataset.kind = actor.kind;
    row.dataset.state = stateName(actor.value);
    row.dataset.history = actor.history.join(' ');
    if (actor.status !== 'active') row.classList.add('done');
    if (key === selected) row.classList.add('selected');
    const label = actor.kind === 'job'
      ? `job ${actor.id} (${actor.queue})`
      : actor.kind === 'queue' ? `queue ${actor.id}` : 'supervisor';
    for (const text of [label, row.dataset.state,
      actor.history.join(' → ')]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.appendChild(cell);
    }
    if (actor.kind === 'job') {
      row.addEventListener('click', () => select(key));
    }
    body.appendChild(row);
  }
  for (const [name, { figure, rootId }] of figures) {
    const values = [...actors.values()]
      .filter((actor) => actor.kind === name && actor.status === 'active')
      .map((actor) => actor.value);
    highlight(figure, rootId, values);
  }
}

async function select(key) {
  selected = key;
  render();
  await showJob();
}

async function showJob() {
  if (!selected) return;
  const actor = actors.get(selected);
  const target = $('#job');
  if (!actor || actor.status !== 'active') {
    target.innerHTML = '<p class="hint">The job has finished.</p>';
    return;
  }
  try {
    const job = await request('debug', 'job', { id: actor.id });
    const context = {
      id: job.id, queue: job.queue, commands: job.commands,
      index: job.index, pid: job.pid, kill: job.kill
    };
    const heading = document.createElement('h3');
    heading.textContent = `context (${stateName(job.value)})`;
    const contextText = document.createElement('pre');
    contextText.id = 'job-context';
    contextText.textContent = JSON.stringify(context, null, 2);
    const output = document.createElement('pre');
    output.id = 'job-output';
    output.textContent = job.outputTail || '(no output yet)';
    target.replaceChildren(heading, contextText, output);
  } catch (error) {
    target.textContent = error.message;
  }
}

$('#login').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  setStatus('connecting…');
  connect(form.get('username'), form.get('password')).catch((error) => {
    setStatus(error.message, true);
    socket?.close();
  });
});

setInterval(() => { showJob(); }, JOB_REFRESH_MS);
