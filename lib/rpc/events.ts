/**
 * The event hub: turns the dispatcher's job events into `dispatcher`
 * events on the wire and sends them to every subscribed connection.
 *
 * Each job gets one `queued` event, one `started`, output deltas holding
 * only new text (at most one per `intervalMs` per job, sooner once 256 KiB
 * has gathered, and one last delta right before the end), and exactly
 * one `finished` event carrying the full job log. Each event is
 * serialised once, whatever the number of subscribers; nothing is built
 * while nobody listens.
 */
import type { Dispatcher, JobEvent } from '../jobs/dispatcher.js';
import { isoTime } from '../jobs/job-log.js';
import { usageFields, type UsageSample } from '../jobs/usage.js';
import type { QueuedJob } from '../../machines/queue.js';

/** A connection that receives events. */
export interface Subscriber {
  /** Sends one serialised event message. */
  send(message: string): void;
  /** Sends several at once, in one write where it can. */
  sendMany?(messages: string[]): void;
}

/**
 * Output held for one event, in characters: past it, the event goes
 * out before the interval is over. The text is sent twice (see below)
 * and JSON may write a control character as six, so an event stays
 * under a few megabytes, well below what gets a subscriber dropped.
 */
export const MAX_OUTPUT_EVENT_CHARS = 256 * 1024;

/** Fields of an output event, which command-text keys must not hide. */
const outputFields = new Set([
  'event', 'state', 'process_id', 'queue', 'current_cmd', 'command_index',
  'output', 'seq', 'time'
]);

interface PendingOutput {
  job: QueuedJob;
  /** New text per command index, in order of arrival. */
  chunks: Map<number, string>;
  /** Characters held in `chunks`. */
  size: number;
  timer: NodeJS.Timeout | null;
  lastSent: number;
}

export interface EventHubOptions {
  /** Shortest gap between two output events of one job, ms. */
  intervalMs: number;
  /** Events kept for subscribers that resume, count. */
  backlog: number;
  /**
   * Events kept for subscribers that resume, bytes in all: a job that
   * prints a lot must not make the backlog hold hundreds of megabytes.
   */
  backlogBytes: number;
  /** Number of the last event sent before; numbering goes on from it. */
  lastSeq?: number;
  /** Told the last sequence number after each batch is delivered. */
  onDelivered?: (seq: number) => void;
}

/** What a subscriber resuming from a sequence number gets. */
export interface Resumption {
  /** Events sent again. */
  replayed: number;
  /** True when some events after `since` are no longer kept. */
  missed: boolean;
}

export class EventHub {
  /** Shortest gap between two output events of one job, ms. */
  readonly intervalMs: number;
  #backlog: Array<{ seq: number; message: string }> = [];
  #backlogLimit: number;
  #backlogBytesLimit: number;
  #backlogBytes = 0;
  #onDelivered: ((seq: number) => void) | undefined;
  #subscribers = new Set<Subscriber>();
  #output = new Map<string, PendingOutput>();
  #listener = (event: JobEvent) => this.#onJob(event);
  #dispatcher: Dispatcher | null = null;
  #outbox: string[] = [];
  /** Number of the last event sent; counts from 1 per server run. */
  #seq = 0;
  /** Number of the last event handed to subscribers. */
  #delivered = 0;
  #flushing: NodeJS.Immediate | null = null;

  constructor(options: EventHubOptions) {
    this.intervalMs = options.intervalMs;
    this.#backlogLimit = options.backlog;
    this.#backlogBytesLimit = options.backlogBytes;
    this.#seq = options.lastSeq ?? 0;
    this.#onDelivered = options.onDelivered;
  }

  /** Number of the last event made. */
  get seq(): number {
    return this.#seq;
  }

  /** Starts relaying the dispatcher's events. */
  attach(dispatcher: Dispatcher): void {
    this.#dispatcher = dispatcher;
    dispatcher.on('job', this.#listener);
  }

  /** Stops relaying and cancels pending output timers. */
  detach(): void {
    this.#dispatcher?.off('job', this.#listener);
    for (const pending of this.#output.values()) {
      if (pending.timer) clearTimeout(pending.timer);
    }
    this.#output.clear();
    if (this.#flushing) clearImmediate(this.#flushing);
    this.#deliver();
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /**
   * Adds a subscriber. With `since`, first sends it every kept event
   * numbered after `since`, so a client that reconnects misses nothing
   * the backlog still holds.
   */
  subscribe(subscriber: Subscriber, since?: number): Resumption {
    this.#subscribers.add(subscriber);
    if (since === undefined) return { replayed: 0, missed: false };
    const oldest = this.#backlog[0]?.seq ?? this.#delivered + 1;
    let replayed = 0;
    for (const entry of this.#backlog) {
      if (entry.seq > since) {
        subscriber.send(entry.message);
        replayed++;
      }
    }
    return { replayed, missed: since + 1 < oldest && since < this.#delivered };
  }

  unsubscribe(subscriber: Subscriber): void {
    this.#subscribers.delete(subscriber);
  }

  /**
   * Sends a running job's latest CPU and memory sample as a `usage`
   * event; nothing is built while nobody listens.
   */
  usage(job: QueuedJob, sample: UsageSample): void {
    if (this.#subscribers.size === 0) return;
    this.#broadcast({
      event: 'usage',
      state: 'running',
      process_id: job.id,
      queue: job.queue,
      ...usageFields(sample)
    });
  }

  #onJob(event: JobEvent): void {
    if (this.#subscribers.size === 0) {
      // Output gathered for a job nobody watches any more is dropped.
      if (event.type === 'finished') this.#dropOutput(event.job.id);
      return;
    }
    switch (event.type) {
      case 'queued':
        for (const job of event.jobs) {
          this.#broadcast({
            event: 'queued',
            state: 'pending',
            process_id: job.id,
            queue: job.queue,
            cmd_list: job.commands,
            time_submitted: isoTime(job.submittedAt),
            submitted_by: job.submittedBy
          });
        }
        break;
      case 'started':
        this.#broadcast({ event: 'started', ...event.log });
        break;
      case 'command':
        this.#flushOutput(event.job.id);
        this.#broadcast({
          event: 'command',
          state: 'running',
          process_id: event.job.id,
          queue: event.job.queue,
          current_cmd: event.job.commands[event.index],
          command_index: event.index,
          pid: event.pid
        });
        break;
      case 'output':
        this.#addOutput(event.job, event.index, event.text);
        break;
      case 'signalled':
        this.#broadcast({
          event: 'signal',
          state: 'running',
          process_id: event.job.id,
          queue: event.job.queue,
          signal: event.signal,
          killed_by: event.by
        });
        break;
      case 'finished':
        this.#flushOutput(event.job.id);
        this.#dropOutput(event.job.id);
        this.#broadcast({ event: 'finished', ...event.log });
        break;
    }
  }

  #addOutput(job: QueuedJob, index: number, text: string): void {
    let pending = this.#output.get(job.id);
    if (!pending) {
      pending = { job, chunks: new Map(), size: 0, timer: null, lastSent: 0 };
      this.#output.set(job.id, pending);
    }
    pending.chunks.set(index, (pending.chunks.get(index) ?? '') + text);
    pending.size += text.length;
    // A fast writer would otherwise make one huge event per interval,
    // which a subscriber could not take in before the next one.
    if (pending.size >= MAX_OUTPUT_EVENT_CHARS) {
      this.#flushOutput(job.id);
      return;
    }
    if (pending.timer) return;
    const wait = Math.max(0, pending.lastSent + this.intervalMs - Date.now());
    pending.timer = setTimeout(() => this.#flushOutput(job.id), wait);
  }

  /** Sends what output a job gathered: one event per command. */
  #flushOutput(id: string): void {
    const pending = this.#output.get(id);
    if (!pending) return;
    if (pending.timer) clearTimeout(pending.timer);
    pending.timer = null;
    if (pending.chunks.size === 0) return;
    const { job } = pending;
    for (const [index, text] of pending.chunks) {
      const command = job.commands[index];
      // The original keyed new output by command text; a command that
      // happens to be named like one of our fields does not get a key.
      const compatible = outputFields.has(command) ? {} : { [command]: text };
      this.#broadcast({
        ...compatible,
        event: 'output',
        state: 'running',
        process_id: job.id,
        queue: job.queue,
        current_cmd: command,
        command_index: index,
        output: text
      });
    }
    pending.chunks = new Map();
    pending.size = 0;
    pending.lastSent = Date.now();
  }

  #dropOutput(id: string): void {
    const pending = this.#output.get(id);
    if (pending?.timer) clearTimeout(pending.timer);
    this.#output.delete(id);
  }

  #broadcast(args: Record<string, unknown>): void {
    args.seq = ++this.#seq;
    args.time = new Date().toISOString();
    this.#outbox.push(
      JSON.stringify({ namespace: 'events', name: 'dispatcher', id: '', args })
    );
    // Sent on the next turn, so the reply to a `run` reaches its client
    // before the events of the jobs it queued.
    this.#flushing ??= setImmediate(() => this.#deliver());
  }

  #deliver(): void {
    this.#flushing = null;
    const messages = this.#outbox;
    this.#outbox = [];
    if (messages.length === 0) return;
    for (const subscriber of this.#subscribers) {
      if (subscriber.sendMany) subscriber.sendMany(messages);
      else for (const message of messages) subscriber.send(message);
    }
    const first = this.#seq - messages.length + 1;
    messages.forEach((message, i) => {
      this.#backlog.push({ seq: first + i, message });
      this.#backlogBytes += message.length;
    });
    let drop = 0;
    while (
      drop < this.#backlog.length &&
      (this.#backlog.length - drop > this.#backlogLimit ||
        this.#backlogBytes > this.#backlogBytesLimit)
    ) {
      this.#backlogBytes -= this.#backlog[drop].message.length;
      drop++;
    }
    if (drop > 0) this.#backlog.splice(0, drop);
    this.#delivered = this.#seq;
    this.#onDelivered?.(this.#seq);
  }
}
