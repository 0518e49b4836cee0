/**
 * Output gathered for the event hub, job by job: the new text of each
 * command until its next output event, where that text starts in the
 * command's output, and the time the server may spend sending text.
 *
 * A job gets at most one output event per command and interval, sooner
 * once 256 KiB of text has gathered, and one last one when the hub
 * flushes it (before its next command and before its end). While the
 * server has no time left for output text, new text is not kept, only
 * counted: the interval's event goes out lean.
 */
import type { QueuedJob } from '../../machines/queue.js';
import type { OutputText } from './outgoing.js';

/**
 * Output held for one event, in characters: past it, the event goes
 * out before the interval is over. The text is sent twice (see
 * `OutputEvent`) and JSON may write a control character as six, so an
 * event stays under a few megabytes.
 */
export const MAX_OUTPUT_EVENT_CHARS = 256 * 1024;

/**
 * The share of the server's time that sending output text may take.
 * The server has one thread: a job printing faster than its output can
 * be turned into JSON and written would otherwise be slowed by its
 * subscribers (JSON writes a zero byte as six, and the text goes in
 * twice). Past it, output events go lean (see `OutputEvent`). On the
 * machine of docs/performance.md, 2 % is some 4 MB/s of plain text, or
 * 1 MB/s of zero bytes.
 */
const TEXT_TIME_SHARE = 1 / 50;

/** Time for output text that may be spent at once, ms. */
const TEXT_BURST_MS = 20;

/** The time left for output text; see `TEXT_TIME_SHARE`. */
export class TextBudget {
  /** Ms left to spend. */
  #left = TEXT_BURST_MS;
  #at = performance.now();

  /** True while some time is left. */
  allows(): boolean {
    const now = performance.now();
    this.#left = Math.min(TEXT_BURST_MS,
      this.#left + (now - this.#at) * TEXT_TIME_SHARE);
    this.#at = now;
    return this.#left > 0;
  }

  /** Counts time spent on output, ms. */
  spend(ms: number): void {
    this.#left -= ms;
  }
}

/** Output of one command gathered for its next event. */
interface HeldText {
  /** The text; null once let go, when only its length is kept. */
  text: string | null;
  /** Its length, bytes. */
  bytes: number;
  /** Its length, characters. */
  chars: number;
}

/** One job's output as it is followed. */
interface JobOutput {
  job: QueuedJob;
  /**
   * Where each command's next text starts in its output, bytes; a
   * command is missing until it is known.
   */
  offsets: Map<number, number>;
  /** New output per command index, in order of arrival. */
  held: Map<number, HeldText>;
  /** Characters of text held. */
  size: number;
  timer: NodeJS.Timeout | null;
  lastSent: number;
}

export interface GatheringOptions {
  /** Shortest gap between two output events of one job, ms. */
  intervalMs: number;
  budget: TextBudget;
  /**
   * Where new text of `bytes` bytes starts in the output of a command
   * that printed before it was followed.
   */
  offsetBefore(job: QueuedJob, index: number, bytes: number): number;
  /** Sends the output event of one command's gathered output. */
  emit(output: OutputText): void;
}

export class OutputGathering {
  #options: GatheringOptions;
  #jobs = new Map<string, JobOutput>();

  constructor(options: GatheringOptions) {
    this.#options = options;
  }

  /** Command `index` of `job` starts: its output begins at byte 0. */
  begin(job: QueuedJob, index: number): void {
    const { offsets } = this.#follow(job);
    if (!offsets.has(index)) offsets.set(index, 0);
  }

  /** New text of command `index` of `job`. */
  add(job: QueuedJob, index: number, text: string): void {
    const gathered = this.#follow(job);
    const bytes = Buffer.byteLength(text);
    if (!gathered.offsets.has(index)) {
      gathered.offsets.set(index,
        this.#options.offsetBefore(job, index, bytes));
    }
    let held = gathered.held.get(index);
    if (!held) {
      held = { text: '', bytes: 0, chars: 0 };
      gathered.held.set(index, held);
    }
    held.bytes += bytes;
    held.chars += text.length;
    if (held.text !== null && this.#options.budget.allows()) {
      held.text += text;
      gathered.size += text.length;
    } else if (held.text !== null) {
      gathered.size -= held.text.length;
      held.text = null;
    }
    // A fast writer would otherwise make one huge event per interval,
    // which a subscriber could not take in before the next one.
    if (gathered.size >= MAX_OUTPUT_EVENT_CHARS) {
      this.flush(job.id);
      return;
    }
    if (gathered.timer) return;
    const wait = Math.max(0,
      gathered.lastSent + this.#options.intervalMs - Date.now());
    gathered.timer = setTimeout(() => this.flush(job.id), wait);
  }

  /** Sends what a job gathered: one output event per command. */
  flush(id: string): void {
    const gathered = this.#jobs.get(id);
    if (!gathered) return;
    if (gathered.timer) clearTimeout(gathered.timer);
    gathered.timer = null;
    if (gathered.held.size === 0) return;
    const { job, offsets } = gathered;
    for (const [index, held] of gathered.held) {
      const offset = offsets.get(index) ?? 0;
      offsets.set(index, offset + held.bytes);
      this.#options.emit({ job, index, offset, ...held });
    }
    gathered.held = new Map();
    gathered.size = 0;
    gathered.lastSent = Date.now();
  }

  /** Forgets a job: what it gathered, and where its output was. */
  drop(id: string): void {
    const gathered = this.#jobs.get(id);
    if (!gathered) return;
    if (gathered.timer) clearTimeout(gathered.timer);
    this.#jobs.delete(id);
  }

  /** Forgets every job. */
  clear(): void {
    for (const id of [...this.#jobs.keys()]) this.drop(id);
  }

  #follow(job: QueuedJob): JobOutput {
    let gathered = this.#jobs.get(job.id);
    if (!gathered) {
      gathered = { job, offsets: new Map(), held: new Map(), size: 0,
        timer: null, lastSent: 0 };
      this.#jobs.set(job.id, gathered);
    }
    return gathered;
  }
}
