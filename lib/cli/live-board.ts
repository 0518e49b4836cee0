/**
 * What the live view of `watch` shows, kept from `list` replies and
 * events, and drawn as lines that fit the terminal. No I/O here: the
 * view (live-view.ts) feeds it and writes what it draws.
 */
import type { ListedJob } from './client-commands.js';
import {
  duration,
  elapsed,
  paint,
  skippedNote,
  table,
  usageCells,
  visible,
  type Colours,
  type Usage
} from './format.js';

/** Lines of output kept and shown under each running job. */
const TAIL_LINES = 3;

/** Finished jobs kept and shown, the last to finish first. */
const FINISHED_SHOWN = 5;

interface LiveJob {
  id: string;
  queue: string;
  state: string;
  position: string;
  pid: number | null;
  command: string;
  started: string | null;
  usage: Usage;
  tail: string[];
  /** Output after the last newline, shown until the line is complete. */
  partial: string;
}

interface FinishedJob {
  id: string;
  queue: string;
  outcome: string;
  took: string;
  command: string;
}

/** The jobs the live view draws. */
export class Board {
  #live = new Map<string, LiveJob>();
  #finished: FinishedJob[] = [];

  /** Takes the pending and running jobs of a `list` reply as the truth. */
  refresh(jobs: Record<string, Record<string, ListedJob>>): void {
    const seen = new Set<string>();
    for (const [queue, byId] of Object.entries(jobs)) {
      for (const [id, listed] of Object.entries(byId)) {
        seen.add(id);
        const job = this.#job(id, queue);
        job.state = listed.state;
        job.position = listed.queue_position ?? '-';
        job.pid = listed.pid;
        job.command = listed.current_cmd || listed.commands.join(' → ');
        job.started = listed.time_started;
        job.usage = listed;
      }
    }
    for (const id of this.#live.keys()) {
      if (!seen.has(id)) this.#live.delete(id);
    }
  }

  /** Applies one dispatcher event. */
  apply(event: Record<string, any>): void {
    const id = String(event.process_id);
    if (event.event === 'finished') {
      this.#live.delete(id);
      const took = Date.parse(event.time_finished) -
        Date.parse(event.time_started);
      this.#finished.unshift({
        id, queue: event.queue, outcome: event.outcome,
        took: Number.isNaN(took) ? '-' : duration(took),
        command: event.cmd_list.join(' → ')
      });
      this.#finished.length = Math.min(this.#finished.length,
        FINISHED_SHOWN);
      return;
    }
    if (event.event === 'usage') {
      // A sample may trail the job's end; it must not bring it back.
      const job = this.#live.get(id);
      if (job) job.usage = event;
      return;
    }
    const job = this.#job(id, event.queue);
    job.state = event.state ?? job.state;
    switch (event.event) {
      case 'queued':
        job.command = event.cmd_list.join(' → ');
        break;
      case 'started':
        job.pid = event.commands?.[0]?.pid ?? null;
        job.command = event.current_cmd;
        job.started = event.time_started;
        break;
      case 'command':
        job.pid = event.pid ?? null;
        job.command = event.current_cmd;
        break;
      case 'signal':
        addOutput(job, `[${event.signal} sent by ${event.killed_by}]\n`);
        break;
      case 'output':
        addOutput(job, typeof event.skipped_bytes === 'number'
          ? `${skippedNote(event)}\n`
          : String(event.output));
        break;
    }
  }

  /** Draws the board: at most `height` lines of at most `width`. */
  draw(c: Colours, width: number, height: number, now = Date.now()) {
    const running = [...this.#live.values()]
      .filter((job) => job.state === 'running');
    const pending = [...this.#live.values()]
      .filter((job) => job.state !== 'running')
      .sort((a, b) => a.queue.localeCompare(b.queue) ||
        Number(a.position) - Number(b.position));
    const lines: string[] = [];
    lines.push(c.bold(`RUNNING (${running.length})`));
    if (running.length > 0) {
      const [head, ...rows] = table(
        ['ID', 'QUEUE', 'PID', 'CPU', 'MEM', 'ELAPSED', 'COMMAND'],
        running.map((job) => [visible(job.id), job.queue,
          String(job.pid ?? '-'), ...usageCells(job.usage),
          elapsed(job.started, now),
          visible(job.command)]), c).split('\n');
      lines.push(head);
      running.forEach((job, index) => {
        lines.push(rows[index]);
        const tail = [...job.tail, ...(job.partial ? [job.partial] : [])];
        for (const line of tail.slice(-TAIL_LINES)) {
          lines.push(c.dim(`  │ ${visible(line)}`));
        }
      });
    }
    lines.push('', c.bold(`PENDING (${pending.length})`));
    if (pending.length > 0) {
      lines.push(...table(['ID', 'QUEUE', 'POS', 'COMMAND'],
        pending.map((job) => [visible(job.id), job.queue, job.position,
          visible(job.command)]), c).split('\n'));
    }
    if (this.#finished.length > 0) {
      lines.push('', c.bold('FINISHED'));
      lines.push(...table(['ID', 'QUEUE', 'OUTCOME', 'TOOK', 'COMMAND'],
        this.#finished.map((job) => [visible(job.id), job.queue,
          paint(job.outcome, c), job.took, visible(job.command)]), c)
        .split('\n'));
    }
    if (lines.length > height) {
      const hidden = lines.length - height + 1;
      lines.splice(height - 1, hidden, c.dim(`… ${hidden} more lines`));
    }
    return lines.map((line) => clip(line, width));
  }

  #job(id: string, queue: string): LiveJob {
    let job = this.#live.get(id);
    if (!job) {
      job = { id, queue, state: 'pending', position: '-', pid: null,
        command: '', started: null, usage: {}, tail: [], partial: '' };
      this.#live.set(id, job);
    }
    return job;
  }
}

/**
 * Adds output to a job's tail. A carriage return starts the line over,
 * as it would on a terminal, so progress bars show their last state.
 */
function addOutput(job: LiveJob, text: string): void {
  const lines = (job.partial + text).split('\n');
  job.partial = lastSegment(lines.pop() ?? '');
  job.tail.push(...lines.slice(-TAIL_LINES).map(lastSegment));
  job.tail.splice(0, Math.max(0, job.tail.length - TAIL_LINES));
}

function lastSegment(line: string): string {
  return line.slice(line.lastIndexOf('\r') + 1);
}

/**
 * Cuts a line to `width` visible characters; colour escapes take no
 * room and colour is reset after a cut.
 */
export function clip(line: string, width: number): string {
  let shown = 0;
  let index = 0;
  while (index < line.length) {
    const escape = /^\x1b\[[0-9;]*m/.exec(line.slice(index));
    if (escape) {
      index += escape[0].length;
      continue;
    }
    if (shown === width) return `${line.slice(0, index)}\x1b[0m`;
    shown++;
    index++;
  }
  return line;
}
