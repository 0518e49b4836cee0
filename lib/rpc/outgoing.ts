/**
 * Events on their way to subscribers. Each message is made once, as the
 * UTF-8 bytes that go on the wire, however many subscribers get it.
 *
 * An output event has two forms: the whole one, with the new text, and
 * a lean one for a subscriber too far behind to be sent the text, which
 * says where that text is in the command's output and how long it is, so
 * that the subscriber can page it with `get`. Each form is made the
 * first time a subscriber needs it; with nobody behind, the lean one is
 * never made, and with everybody behind, neither is the JSON of the text.
 */
import type { QueuedJob } from '../../machines/queue.js';

/** Opens every event message; `args` follows. */
const ENVELOPE = '{"namespace":"events","name":"dispatcher","id":"","args":';

/** Largest output message kept whole for resuming subscribers, bytes. */
const KEPT_WHOLE_BYTES = 64 * 1024;

/** Fields of an output event, which command-text keys must not hide. */
const outputFields = new Set([
  'event', 'state', 'process_id', 'queue', 'current_cmd', 'command_index',
  'output', 'offset', 'skipped_bytes', 'skipped_chars', 'seq', 'time'
]);

/** An event message ready to be sent. */
export interface OutgoingEvent {
  /** The event's number (`args.seq`). */
  readonly seq: number;
  /** True for an output event, whose text may be withheld. */
  readonly output: boolean;
  /** The whole message. */
  whole(): Buffer;
  /** A lower bound of the whole message's size, bytes, found cheaply. */
  wholeBytesAtLeast(): number;
  /** The message without output text; the whole one for other events. */
  lean(): Buffer;
  /**
   * Lets go of what only the first delivery needed, once the event has
   * gone out; returns the bytes the event still holds.
   */
  settle(): number;
}

/** Any event but output: one form, made when the event is. */
export class PlainEvent implements OutgoingEvent {
  readonly seq: number;
  readonly output = false;
  #message: Buffer;

  /** `args` gets its `seq` and `time` here. */
  constructor(args: Record<string, unknown>, seq: number, time: string) {
    args.seq = seq;
    args.time = time;
    this.seq = seq;
    // Written piece by piece: joined first, a `finished` event holding a
    // megabyte of output would be copied once more as a string.
    const json = JSON.stringify(args);
    const message = Buffer.allocUnsafe(
      ENVELOPE.length + Buffer.byteLength(json) + 1);
    let at = message.write(ENVELOPE, 0, 'latin1');
    at += message.write(json, at);
    message.write('}', at, 'latin1');
    this.#message = message;
  }

  whole(): Buffer {
    return this.#message;
  }

  wholeBytesAtLeast(): number {
    return this.#message.length;
  }

  lean(): Buffer {
    return this.#message;
  }

  settle(): number {
    return this.#message.length;
  }
}

/** New text of one command of a job, and where it goes. */
export interface OutputText {
  job: QueuedJob;
  /** Index of the command in the job's chain. */
  index: number;
  /** The text; null when it was let go and only the lean form remains. */
  text: string | null;
  /** UTF-8 length of the text, bytes. */
  bytes: number;
  /** Length of the text, characters. */
  chars: number;
  /** Where the text starts in the command's output, bytes. */
  offset: number;
}

/** An output event: the whole form with its text, or the lean one. */
export class OutputEvent implements OutgoingEvent {
  readonly seq: number;
  readonly output = true;
  #time: string;
  #where: Omit<OutputText, 'text'>;
  /** The text until the event has gone out; null after. */
  #text: string | null;
  #whole: Buffer | null = null;
  #lean: Buffer | null = null;

  constructor(output: OutputText, seq: number, time: string) {
    const { text, ...where } = output;
    this.seq = seq;
    this.#time = time;
    this.#where = where;
    this.#text = text;
  }

  /** The whole message; once its text is let go, the lean one. */
  whole(): Buffer {
    if (this.#whole) return this.#whole;
    if (this.#text === null) return this.lean();
    // The text goes in twice (see `#compatibleKey`); it is escaped and
    // encoded once, then copied.
    const text = JSON.stringify(this.#text);
    const key = this.#compatibleKey();
    const head = `${ENVELOPE}{${key === null ? '' : `${key}:`}`;
    const middle = `${key === null ? '' : ','}${this.#fields()}` +
      ',"output":';
    const tail = `,"offset":${this.#where.offset}${this.#stamp()}`;
    // Escapes are ASCII and stand for one-byte characters, and the rest
    // of the text is as it was: the JSON's UTF-8 length follows without
    // measuring it again. Only a lone surrogate, which decoded output
    // never holds, would make it more; then the text is measured.
    const textBytes = this.#where.bytes + text.length - this.#where.chars;
    const message = Buffer.allocUnsafe(Buffer.byteLength(head) +
      Buffer.byteLength(middle) + Buffer.byteLength(tail) +
      textBytes * (key === null ? 1 : 2));
    let at = message.write(head, 0);
    const first = at;
    if (key !== null) at += encode(message, text, at, textBytes);
    at += message.write(middle, at);
    at += key === null
      ? encode(message, text, at, textBytes)
      : message.copy(message, at, first, first + textBytes);
    at += message.write(tail, at);
    this.#whole = at === message.length
      ? message
      : Buffer.from(head + (key === null ? '' : text) + middle + text + tail);
    return this.#whole;
  }

  /** The text's bytes, as often as it goes in (see `whole`). */
  wholeBytesAtLeast(): number {
    if (this.#whole) return this.#whole.length;
    if (this.#text === null) return this.lean().length;
    const copies = this.#compatibleKey() === null ? 1 : 2;
    return copies * this.#where.bytes;
  }

  /** The message without the text, saying what was left out. */
  lean(): Buffer {
    if (this.#lean) return this.#lean;
    const { offset, bytes } = this.#where;
    const key = this.#compatibleKey();
    this.#lean = Buffer.from(
      `${ENVELOPE}{${key === null ? '' : `${key}:"",`}${this.#fields()}` +
        `,"output":"","offset":${offset},"skipped_bytes":${bytes}` +
        `,"skipped_chars":${this.#where.chars}${this.#stamp()}`
    );
    return this.#lean;
  }

  /**
   * Keeps the whole form if a subscriber was sent it and it is small,
   * so that one that resumes gets the same; else only the lean form,
   * from which the text can be paged with `get`. A few events of
   * megabytes kept for resuming would double the memory that output
   * takes while it is sent.
   */
  settle(): number {
    this.#text = null;
    if (this.#whole && this.#whole.length > KEPT_WHOLE_BYTES) {
      this.#whole = null;
    }
    return this.#whole?.length ?? this.lean().length;
  }

  /**
   * The original keyed new output by command text; a command that
   * happens to be named like one of the event's fields gets no key.
   * Null when it gets none.
   */
  #compatibleKey(): string | null {
    const { job, index } = this.#where;
    const command = job.commands[index];
    return outputFields.has(command) ? null : JSON.stringify(command);
  }

  #fields(): string {
    const { job, index } = this.#where;
    return `"event":"output","state":"running",` +
      `"process_id":${JSON.stringify(job.id)},` +
      `"queue":${JSON.stringify(job.queue)},` +
      `"current_cmd":${JSON.stringify(job.commands[index])},` +
      `"command_index":${index}`;
  }

  #stamp(): string {
    return `,"seq":${this.seq},"time":"${this.#time}"}}`;
  }
}

/**
 * Writes `text`, `bytes` long in UTF-8, into `target` at `at`. Text
 * that is all ASCII (its length in bytes equals its length) takes the
 * faster one-byte path. Returns the bytes written.
 */
function encode(target: Buffer, text: string, at: number, bytes: number) {
  return bytes === text.length
    ? target.write(text, at, bytes, 'latin1')
    : target.write(text, at, bytes);
}
