/**
 * The event side of one WebSocket connection: each batch of events in
 * one write, output held back from a subscriber that fell behind, and
 * a subscriber that stopped reading dropped.
 *
 * - Output events take at most half of `--max-unsent` of what the
 *   server holds unsent for a subscriber (the bytes the kernel has not
 *   taken yet). One that does not fit goes lean: without its text, with
 *   where that text is in the command's output and how long it is, so
 *   the subscriber can page it with `get`. Every event still reaches
 *   every subscriber, in order, each `seq` once; a job never waits for a
 *   subscriber, and output never piles up in the server for one.
 * - A subscriber that has taken in nothing for half a heartbeat interval
 *   while events waited for it has stopped reading, and is dropped. So
 *   is one whose unsent events, not counting the last batch, pass
 *   `--max-unsent`: events other than output cannot be held back.
 * - Messages are framed once per batch for every subscriber (see
 *   frames.ts), unless the connection compresses.
 */
import type { Duplex } from 'node:stream';

import type { WebSocket } from 'ws';

import type { EventBatch, Subscriber } from './events.js';
import { textFrames } from './frames.js';
import type { Services } from './handlers.js';

/**
 * The share of `--max-unsent` that output may take; the rest is kept
 * for events that cannot be held back.
 */
const OUTPUT_SHARE = 1 / 2;

/** The frames of a batch whose events all go whole, made once. */
const wholeFrames = new WeakMap<EventBatch, Buffer[]>();

/** How one subscriber is judged; see `ConnectionSettings`. */
export interface SubscriberSettings {
  maxUnsentBytes: number;
  heartbeatMs: number;
}

export class WsSubscriber implements Subscriber {
  readonly socket: WebSocket;
  readonly address: string;
  #services: Services;
  #maxUnsent: number;
  /** Unsent bytes past which output goes lean. */
  #outputBytes: number;
  #stalledMs: number;
  /** Bytes of the last batch written. */
  #lastBatchBytes = 0;
  /** Unsent bytes right after the last batch was written. */
  #unsentAfter = 0;
  /** When it was last seen behind without having taken anything in. */
  #stuckSince: number | null = null;

  constructor(
    socket: WebSocket,
    address: string,
    services: Services,
    settings: SubscriberSettings
  ) {
    this.socket = socket;
    this.address = address;
    this.#services = services;
    this.#maxUnsent = settings.maxUnsentBytes;
    this.#outputBytes = settings.maxUnsentBytes * OUTPUT_SHARE;
    this.#stalledMs = settings.heartbeatMs / 2;
  }

  /** Sends one message that is not an event (the debugging feed). */
  send(message: string): void {
    if (!this.#keepsUp()) return;
    this.#lastBatchBytes = message.length;
    this.socket.send(message);
  }

  deliver(batch: EventBatch): void {
    if (!this.#keepsUp()) return;
    const { socket } = this;
    const payloads = this.#forms(batch, socket.bufferedAmount);
    // `_socket` is the connection under ws. ws corks it around each
    // frame; an outer cork makes the whole batch one write.
    const raw = (socket as unknown as { _socket?: Duplex })._socket;
    let bytes = 0;
    raw?.cork();
    try {
      if (raw && socket.extensions === '') {
        const frames = payloads ? textFrames(payloads) : sharedFrames(batch);
        for (const frame of frames) {
          raw.write(frame);
          bytes += frame.length;
        }
      } else {
        for (const payload of payloads ?? wholePayloads(batch)) {
          socket.send(payload, { binary: false });
          bytes += payload.length;
        }
      }
    } finally {
      raw?.uncork();
    }
    this.#lastBatchBytes = bytes;
    this.#unsentAfter = socket.bufferedAmount;
  }

  /**
   * The payloads of a batch for this subscriber, or null when every
   * event goes whole. An output event goes whole only if it fits, with
   * what is unsent and what the batch adds before it, in the share of
   * the unsent limit that output may take. Its size is first judged
   * without making its JSON, which a subscriber far behind never needs.
   */
  #forms(batch: EventBatch, unsent: number): Buffer[] | null {
    if (!batch.hasOutput) return null;
    let queued = unsent;
    let lean = false;
    const payloads = batch.events.map((event) => {
      let payload: Buffer | null = null;
      if (!event.output) {
        payload = event.whole();
      } else if (batch.textAllowed &&
          queued + event.wholeBytesAtLeast() <= this.#outputBytes) {
        const whole = event.whole();
        if (queued + whole.length <= this.#outputBytes) payload = whole;
      }
      if (!payload) {
        lean = true;
        payload = event.lean();
      }
      queued += payload.length;
      return payload;
    });
    return lean ? payloads : null;
  }

  /**
   * False, having dropped the subscriber, when it stopped reading: it
   * has taken nothing in for half a heartbeat interval while events
   * waited for it, or what it left unsent before the last batch passes
   * the limit. One batch may be as large as a burst of events; a reader
   * that keeps up may still be taking the last one in.
   */
  #keepsUp(): boolean {
    const { socket } = this;
    if (socket.readyState !== socket.OPEN) return false;
    const unsent = socket.bufferedAmount;
    if (unsent === 0 || unsent < this.#unsentAfter) {
      this.#stuckSince = null;
    } else {
      this.#stuckSince ??= Date.now();
    }
    const stalled = this.#stuckSince !== null &&
      Date.now() - this.#stuckSince > this.#stalledMs;
    if (!stalled && unsent - this.#lastBatchBytes <= this.#maxUnsent) {
      return true;
    }
    this.#services.log.warn(
      { address: this.address, unsentBytes: unsent },
      'dropped a subscriber that stopped reading'
    );
    this.#services.monitor?.subscriberDropped();
    this.#services.hub.unsubscribe(this);
    // A close frame would queue behind the unsent data; cut it off.
    socket.terminate();
    return false;
  }
}

/** The frames of a batch whose events all go whole, made once. */
function sharedFrames(batch: EventBatch): Buffer[] {
  let frames = wholeFrames.get(batch);
  if (!frames) {
    frames = textFrames(wholePayloads(batch));
    wholeFrames.set(batch, frames);
  }
  return frames;
}

function wholePayloads(batch: EventBatch): Buffer[] {
  return batch.events.map((event) => event.whole());
}
