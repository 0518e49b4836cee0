/**
 * Live actor states for the debugging page (`/debug/`). Subscribers get
 * the state of every live actor when it changes: the supervisor, each
 * queue with its running and pending counts, each running job. Changes
 * are gathered and sent at most every `intervalMs`, the latest state of
 * each actor only, so a burst of jobs costs one message, not one per
 * transition. Pending jobs are counted, never listed.
 */
import type { StateValue } from 'xstate';

import type { ActorUpdate, Dispatcher } from '../jobs/dispatcher.js';
import type { Subscriber } from '../rpc/events.js';

/** Running and pending jobs of each queue. */
export type QueueCounts = Record<string, { running: number; pending: number }>;

/**
 * An actor's latest state, with the states it passed through since the
 * last update (at most `MAX_PASSED`), so a job that was pending for a
 * millisecond still shows it was.
 */
export interface ActorState extends ActorUpdate {
  passed: StateValue[];
}

/** What a subscriber is sent first, and then with each change. */
export interface ActorsMessage {
  actors: ActorState[];
  queues: QueueCounts;
}

/** States kept per actor between two updates. */
const MAX_PASSED = 8;

/** Default gap between two updates, milliseconds. */
const DEFAULT_INTERVAL_MS = 50;

export class DebugFeed {
  #dispatcher: Dispatcher;
  #intervalMs: number;
  #subscribers = new Set<Subscriber>();
  #changed = new Map<string, ActorState>();
  #timer: NodeJS.Timeout | null = null;
  #listener = (update: ActorUpdate) => this.#onActor(update);

  /** `intervalMs`: shortest gap between two updates (default 50). */
  constructor(dispatcher: Dispatcher, intervalMs = DEFAULT_INTERVAL_MS) {
    this.#dispatcher = dispatcher;
    this.#intervalMs = intervalMs;
  }

  /** Adds a subscriber; returns the current state of every actor. */
  subscribe(subscriber: Subscriber): ActorsMessage {
    if (this.#subscribers.size === 0) {
      this.#dispatcher.on('actor', this.#listener);
    }
    this.#subscribers.add(subscriber);
    const actors = this.#dispatcher.actors()
      .map((update) => ({ ...update, passed: [] }));
    return { actors, queues: this.#counts() };
  }

  /** Removes a subscriber; a no-op for one that is not subscribed. */
  unsubscribe(subscriber: Subscriber): void {
    if (!this.#subscribers.delete(subscriber)) return;
    if (this.#subscribers.size > 0) return;
    this.#dispatcher.off('actor', this.#listener);
    this.#changed.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Stops sending; every subscriber is dropped. */
  close(): void {
    for (const subscriber of [...this.#subscribers]) {
      this.unsubscribe(subscriber);
    }
  }

  #onActor(update: ActorUpdate): void {
    const key = `${update.kind}:${update.id}`;
    const before = this.#changed.get(key);
    const passed = before ? [...before.passed, before.value] : [];
    if (passed.length > MAX_PASSED) passed.shift();
    this.#changed.set(key, { ...update, passed });
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.#flush(), this.#intervalMs);
    this.#timer.unref();
  }

  #flush(): void {
    this.#timer = null;
    const message: ActorsMessage = {
      actors: [...this.#changed.values()],
      queues: this.#counts()
    };
    this.#changed.clear();
    const text = JSON.stringify({
      namespace: 'debug', name: 'actors', args: message
    });
    for (const subscriber of this.#subscribers) subscriber.send(text);
  }

  #counts(): QueueCounts {
    const counts: QueueCounts = {};
    try {
      for (const [name, sizes] of this.#dispatcher.queueSizes()) {
        counts[name] = sizes;
      }
    } catch {
      // The dispatcher has stopped: there is nothing left to count.
    }
    return counts;
  }
}
