/**
 * Event numbers (`seq`) that keep growing across restarts, crashes
 * included, for one store write per block of numbers rather than one per
 * batch of events sent.
 *
 * The store holds the end of a block of numbers. No number above it
 * leaves the server: the event hub calls {@link EventNumbers.cover}
 * before it sends events or tells the last number, and a number past
 * the block moves the end a block further, in one write.
 * A new run numbers on from the stored end, so its numbers are above
 * every number the last run sent. A clean stop stores the last number
 * made, so numbering then goes on without a gap; after a crash it skips
 * what was left of the block.
 */
import type { JobStore } from './store.js';

/** Numbers reserved by one write. */
export const EVENT_NUMBER_BLOCK = 1000;

/** Where the store keeps the end of the block, in its meta table. */
const META_NAME = 'event_seq';

/** The block of event numbers the store covers. */
export class EventNumbers {
  /** Where the last run left off: numbering goes on after it. */
  readonly last: number;
  #store: JobStore;
  #blockSize: number;
  /** The stored end: every number up to it may have been sent. */
  #end: number;

  /** `blockSize`: numbers reserved by one write (default 1000). */
  constructor(store: JobStore, blockSize = EVENT_NUMBER_BLOCK) {
    this.#store = store;
    this.#blockSize = blockSize;
    this.#end = Number(store.getMeta(META_NAME) ?? 0);
    this.last = this.#end;
  }

  /** Makes the stored end cover `seq`, a block ahead when it moves. */
  cover(seq: number): void {
    if (seq <= this.#end) return;
    this.#end = seq + this.#blockSize;
    this.#store.setMeta(META_NAME, String(this.#end));
  }

  /**
   * Stores `seq`, the last number made, as the end, once no more events
   * will be made: the next run numbers on from it, without a gap.
   */
  close(seq: number): void {
    this.#end = seq;
    this.#store.setMeta(META_NAME, String(seq));
  }
}
