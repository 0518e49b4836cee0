/**
 * The event hub: turns the dispatcher's job events into `dispatcher`
 * events on the wire and sends them to every subscribed connection.
 *
 * Each job gets one `queued` event, one `started`, output deltas holding
 * only new text (at most one per `intervalMs` per job, sooner once 256 KiB
 * has gathered, and one last delta right before the end), and exactly
 * one `finished` event carrying the full job log. Each event is
 * serialised once, whatever the number of subscribers; nothing is built
 * while nobody listens. Output events say where their text starts in
 * the command's output (`offset`, bytes), so that a subscriber from which
 * the text was withheld (see `WsSubscriber`, and the time budget in
 * output-gathering.ts) can page it with `get`.
 */
import type { Dispatcher, JobEvent } from '../jobs/dispatcher.js';
import { isoTime } from '../jobs/job-log.js';
import { usageFields, type UsageSample } from '../jobs/usage.js';
import type { QueuedJob } from '../../machines/queue.js';
import { OutputEvent, PlainEvent, type OutgoingEvent } from './outgoing.js';
import { OutputGathering, TextBudget } from './output-gathering.js';

/** Events handed to subscribers together, in `seq` order. */
export class EventBatch {
  readonly events: readonly OutgoingEvent[];
  /** True when some of them are output, whose text may be withheld. */
  readonly hasOutput: boolean;
  /**
   * False when the server has spent its time for output text: output
   * events then go lean to every subscriber.
   */
  readonly textAllowed: boolean;

  constructor(events: readonly OutgoingEvent[], textAllowed = true) {
    this.events = events;
    this.hasOutput = events.some((event) => event.output);
    this.textAllowed = textAllowed;
  }
}

/** A connection that receives events. */
export interface Subscriber {
  /** Sends one message that is not a dispatcher event. */
  send(message: string): void;
  /**
   * Sends a batch of events, each in the form that suits the
   * connection: output text is withheld from one that fell behind.
   */
  deliver(batch: EventBatch): void;
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
  /**
   * Told the last number made before any number up to it leaves the
   * server: before each batch goes to subscribers, and when {@link
   * EventHub.seq} is read. A store that must keep numbers growing across
   * restarts reserves them here.
   */
  reserve?: (seq: number) => void;
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
  #backlog: Array<{ event: OutgoingEvent; bytes: number }> = [];
  #backlogLimit: number;
  #backlogBytesLimit: number;
  #backlogBytes = 0;
  #reserve: ((seq: number) => void) | undefined;
  #subscribers = new Set<Subscriber>();
  #output: OutputGathering;
  #listener = (event: JobEvent) => this.#onJob(event);
  #dispatcher: Dispatcher | null = null;
  #outbox: OutgoingEvent[] = [];
  /** Number of the last event sent; counts from 1 per server run. */
  #seq = 0;
  /** Number of the last event handed to subscribers. */
  #delivered = 0;
  #flushing: NodeJS.Immediate | null = null;
  #textBudget = new TextBudget();

  constructor(options: EventHubOptions) {
    this.intervalMs = options.intervalMs;
    this.#backlogLimit = options.backlog;
    this.#backlogBytesLimit = options.backlogBytes;
    this.#seq = options.lastSeq ?? 0;
    // Numbers up to it went out before: a subscriber resuming from an
    // earlier one has missed events that this run does not hold.
    this.#delivered = this.#seq;
    this.#reserve = options.reserve;
    this.#output = new OutputGathering({
      intervalMs: options.intervalMs,
      budget: this.#textBudget,
      offsetBefore: (job, index, bytes) =>
        this.#offsetBefore(job, index, bytes),
      emit: (output) => this.#queue(
        new OutputEvent(output, ++this.#seq, new Date().toISOString())
      )
    });
  }

  /** Number of the last event made. */
  get seq(): number {
    this.#reserve?.(this.#seq);
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
   * the backlog still holds. Output events kept without their text are
   * sent again lean (see `OutputEvent`).
   */
  subscribe(subscriber: Subscriber, since?: number): Resumption {
    this.#subscribers.add(subscriber);
    if (since === undefined) return { replayed: 0, missed: false };
    const oldest = this.#backlog[0]?.event.seq ?? this.#delivered + 1;
    const replayed = this.#backlog
      .filter((entry) => entry.event.seq > since)
      .map((entry) => entry.event);
    if (replayed.length > 0) subscriber.deliver(new EventBatch(replayed));
    return {
      replayed: replayed.length,
      missed: since + 1 < oldest && since < this.#delivered
    };
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
      // What was gathered for a job nobody watches any more is dropped;
      // so is where its output was, which the hub no longer follows.
      if (event.type === 'output' || event.type === 'finished') {
        this.#output.drop(event.job.id);
      }
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
        this.#output.begin(event.job, 0);
        this.#broadcast({ event: 'started', ...event.log });
        break;
      case 'command':
        this.#output.flush(event.job.id);
        this.#output.begin(event.job, event.index);
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
        this.#output.add(event.job, event.index, event.text);
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
        this.#output.flush(event.job.id);
        this.#output.drop(event.job.id);
        this.#broadcast({ event: 'finished', ...event.log });
        break;
    }
  }

  /**
   * Where new text of `bytes` bytes starts in a command's output that
   * began printing before the hub followed it (nobody was subscribed):
   * the bytes the job has read so far, less this text. A few bytes off
   * when the command printed bytes that are not UTF-8, or when a read
   * ended inside a character.
   */
  #offsetBefore(job: QueuedJob, index: number, bytes: number): number {
    const log = this.#dispatcher?.runningLog(job.id) as
      { commands?: Array<{ output_bytes?: number }> } | undefined;
    const read = log?.commands?.[index]?.output_bytes ?? bytes;
    return Math.max(0, read - bytes);
  }

  #broadcast(args: Record<string, unknown>): void {
    this.#queue(new PlainEvent(args, ++this.#seq, new Date().toISOString()));
  }

  #queue(event: OutgoingEvent): void {
    this.#outbox.push(event);
    // Sent on the next turn, so the reply to a `run` reaches its client
    // before the events of the jobs it queued.
    this.#flushing ??= setImmediate(() => this.#deliver());
  }

  #deliver(): void {
    this.#flushing = null;
    const events = this.#outbox;
    this.#outbox = [];
    if (events.length === 0) return;
    const batch = new EventBatch(events, this.#textBudget.allows());
    this.#reserve?.(this.#seq);
    const start = performance.now();
    for (const subscriber of this.#subscribers) subscriber.deliver(batch);
    // Lean events cost little; what they cost is counted all the same.
    if (batch.hasOutput) this.#textBudget.spend(performance.now() - start);
    for (const event of events) {
      const bytes = event.settle();
      this.#backlog.push({ event, bytes });
      this.#backlogBytes += bytes;
    }
    let drop = 0;
    while (
      drop < this.#backlog.length &&
      (this.#backlog.length - drop > this.#backlogLimit ||
        this.#backlogBytes > this.#backlogBytesLimit)
    ) {
      this.#backlogBytes -= this.#backlog[drop].bytes;
      drop++;
    }
    if (drop > 0) this.#backlog.splice(0, drop);
    this.#delivered = this.#seq;
  }
}
