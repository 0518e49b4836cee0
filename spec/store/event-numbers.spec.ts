/**
 * Event numbers kept in the store a block at a time, on a real SQLite
 * file: one write per block, nothing sent above the stored end, and
 * numbering that goes on from the stored end when the store is opened
 * again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import type { QueuedJob } from '../../machines/queue.js';
import { EventHub, type EventBatch } from '../../lib/rpc/events.js';
import { EventNumbers } from '../../lib/store/event-numbers.js';
import { SqliteStore } from '../../lib/store/sqlite-store.js';

/** A hub numbering events as the server's does. */
function durableHub(numbers: EventNumbers): EventHub {
  return new EventHub({
    intervalMs: 250,
    backlog: 10000,
    backlogBytes: 1 << 24,
    lastSeq: numbers.last,
    reserve: (seq) => numbers.cover(seq)
  });
}

const job = { id: 'j', queue: 'q' } as QueuedJob;

const sample = { cpu: 1, memory: 1000, sampledAt: 0, pids: [1] };

describe('event numbers in the store', function () {
  let dataDir: string;
  let store: SqliteStore;
  let writes: number;

  beforeEach(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-seq-'));
    store = new SqliteStore(dataDir);
    writes = 0;
    const setMeta = store.setMeta.bind(store);
    store.setMeta = (name, value) => {
      writes++;
      setMeta(name, value);
    };
  });

  afterEach(async function () {
    store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes once per block of numbers', function () {
    const numbers = new EventNumbers(store, 1000);
    expect(numbers.last).to.equal(0);
    for (let seq = 1; seq <= 2500; seq++) numbers.cover(seq);
    expect(writes).to.equal(3);
    expect(store.getMeta('event_seq')).to.equal('3003');
  });

  it('numbers on from the stored end when opened again', function () {
    new EventNumbers(store, 1000).cover(1);
    store.close();
    store = new SqliteStore(dataDir);
    expect(new EventNumbers(store, 1000).last).to.equal(1001);
  });

  it('stores the last number itself on a clean stop', function () {
    const numbers = new EventNumbers(store, 1000);
    numbers.cover(17);
    numbers.close(17);
    store.close();
    store = new SqliteStore(dataDir);
    expect(new EventNumbers(store, 1000).last).to.equal(17);
  });

  it('sends no event numbered above the stored end, even in a batch ' +
    'larger than a block', async function () {
    const hub = durableHub(new EventNumbers(store, 1000));
    const sent: number[] = [];
    hub.subscribe({
      send: () => {},
      deliver: (batch) => {
        for (const { seq } of batch.events) {
          expect(seq).to.be.at.most(Number(store.getMeta('event_seq')));
          sent.push(seq);
        }
      }
    });
    for (let i = 0; i < 2500; i++) hub.usage(job, sample);
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 10; i++) hub.usage(job, sample);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).to.have.length(2510);
    expect(writes).to.equal(1);
  });

  it('tells a subscriber resuming from before a restart what it missed',
    function () {
      const numbers = new EventNumbers(store, 1000);
      numbers.cover(500);
      numbers.close(500);
      store.close();
      store = new SqliteStore(dataDir);
      const hub = durableHub(new EventNumbers(store, 1000));
      const subscriber = { send: () => {}, deliver: () => {} };

      expect(hub.subscribe(subscriber, 480))
        .to.deep.equal({ replayed: 0, missed: true });
      expect(hub.subscribe(subscriber, 500))
        .to.deep.equal({ replayed: 0, missed: false });
    });

  it('covers the number a subscribe reply tells', function () {
    const hub = durableHub(new EventNumbers(store, 1000));
    hub.subscribe({ send: () => {}, deliver: () => {} });
    for (let i = 0; i < 1500; i++) hub.usage(job, sample);
    // Made, not sent yet; a client told this number may resume from it.
    expect(hub.seq).to.equal(1500);
    expect(Number(store.getMeta('event_seq'))).to.be.at.least(1500);
  });

  it('stops sending to a subscriber once it unsubscribes', async function () {
    const hub = durableHub(new EventNumbers(store, 1000));
    let received = 0;
    const subscriber = {
      send: () => {},
      deliver: (batch: EventBatch) => void (received += batch.events.length)
    };
    hub.subscribe(subscriber);
    hub.subscribe(subscriber);
    hub.usage(job, sample);
    await new Promise((resolve) => setImmediate(resolve));
    hub.unsubscribe(subscriber);
    hub.usage(job, sample);
    await new Promise((resolve) => setImmediate(resolve));
    expect(received).to.equal(1);
    expect(hub.subscriberCount).to.equal(0);
  });
});
