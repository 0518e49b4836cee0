/**
 * A job's output as a client follows it through `output` events. The
 * server withholds the text of an event from a subscriber that fell
 * behind, or while it has no time to spare for output; such an event
 * says where the text was (`offset`, `skipped_bytes`). The follower pages
 * that text from the job's files with `get`, so what it writes is the
 * whole output, in order.
 */
import type { Client, Message } from './client.js';

/** Largest page asked for at once, bytes. */
const PAGE_BYTES = 1024 * 1024;

/** Wait before asking again for text not yet in the job's files, ms. */
const RETRY_MS = 100;

/**
 * Times to ask again, once the job has finished, for text its files do
 * not hold yet: they are complete shortly after the job ends.
 */
const RETRIES_AFTER_END = 50;

/** Where a follower's text goes. */
export interface OutputSink {
  /** Text of command `index`, in order. */
  write(text: string, index: number): void;
  /** `bytes` of command `index` that could not be had (past the cap). */
  missed(bytes: number, index: number): void;
}

export class OutputFollower {
  readonly jobId: string;
  #client: Client;
  #sink: OutputSink;
  /** Per command index: bytes written so far, where the next text starts. */
  #written = new Map<number, number>();
  #chain: Promise<void> = Promise.resolve();
  #ended = false;

  constructor(client: Client, jobId: string, sink: OutputSink) {
    this.#client = client;
    this.jobId = jobId;
    this.#sink = sink;
  }

  /** Takes the job's next `output` event, in the order they came. */
  add(event: Message['args']): void {
    this.#chain = this.#chain.then(() => this.#take(event));
  }

  /**
   * Tells it the job has finished; resolves once every text it was
   * told of has been written (or found missing).
   */
  end(): Promise<void> {
    this.#ended = true;
    return this.#chain;
  }

  async #take(event: Message['args']): Promise<void> {
    const index = Number(event.command_index ?? 0);
    const text = String(event.output ?? '');
    if (typeof event.offset !== 'number') {
      // A server that sends no offsets withholds nothing either.
      this.#sink.write(text, index);
      return;
    }
    // A client that subscribed while a command was printing starts at
    // the first text it is told of.
    const from = this.#written.get(index) ?? event.offset;
    const skipped = event.skipped_bytes;
    const end = typeof skipped === 'number'
      ? event.offset + skipped
      : event.offset;
    await this.#page(index, from, end);
    if (typeof skipped === 'number') return;
    this.#sink.write(text, index);
    this.#written.set(index, event.offset + Buffer.byteLength(text));
  }

  /** Writes bytes `from` to `to` of command `index`, paged with `get`. */
  async #page(index: number, from: number, to: number): Promise<void> {
    let offset = from;
    let retries = 0;
    while (offset < to) {
      const { job, output } = await this.#client.dispatcher({
        action: 'get', job_id: this.jobId, command: index, offset,
        length: Math.min(PAGE_BYTES, to - offset)
      });
      if (output.bytes > 0) {
        this.#sink.write(output.text, index);
        offset += output.bytes;
        retries = 0;
        continue;
      }
      // Past the job's cap on disk, or never written: it cannot be had.
      const given = job.output_truncated || this.#ended &&
        retries >= RETRIES_AFTER_END;
      if (given) break;
      if (this.#ended) retries++;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    if (offset < to) this.#sink.missed(to - offset, index);
    this.#written.set(index, Math.max(offset, to));
  }
}
