import { expect } from 'chai';

import { Fifo } from '../../machines/fifo.js';

interface Item {
  id: string;
}

function fifoOf(...ids: string[]): Fifo<Item> {
  const fifo = new Fifo<Item>();
  for (const id of ids) fifo.push({ id });
  return fifo;
}

function idsOf(fifo: Fifo<Item>): string[] {
  return [...fifo].map((item) => item.id);
}

describe('fifo', () => {
  it('gives items back in the order they were pushed', () => {
    const fifo = fifoOf('a', 'b', 'c');

    expect(fifo.shift()?.id).to.equal('a');
    expect(fifo.shift()?.id).to.equal('b');
    expect(fifo.shift()?.id).to.equal('c');
    expect(fifo.shift()).to.equal(undefined);
  });

  it('iterates oldest first without taking anything out', () => {
    const fifo = fifoOf('a', 'b', 'c');

    expect(idsOf(fifo)).to.deep.equal(['a', 'b', 'c']);
    expect(fifo.size).to.equal(3);
  });

  it('returns the very item that was pushed', () => {
    const fifo = new Fifo<Item>();
    const item = { id: 'a' };
    fifo.push(item);

    expect(fifo.get('a')).to.equal(item);
    expect(fifo.shift()).to.equal(item);
  });

  it('counts items as they are pushed, shifted and removed', () => {
    const fifo = new Fifo<Item>();
    expect(fifo.size).to.equal(0);

    fifo.push({ id: 'a' });
    fifo.push({ id: 'b' });
    fifo.push({ id: 'c' });
    expect(fifo.size).to.equal(3);

    fifo.shift();
    expect(fifo.size).to.equal(2);

    fifo.remove('c');
    expect(fifo.size).to.equal(1);

    fifo.remove('missing');
    expect(fifo.size).to.equal(1);
  });

  it('removes an item from the middle and keeps the rest in order', () => {
    const fifo = fifoOf('a', 'b', 'c');

    expect(fifo.remove('b')?.id).to.equal('b');
    expect(idsOf(fifo)).to.deep.equal(['a', 'c']);
    expect(fifo.shift()?.id).to.equal('a');
    expect(fifo.shift()?.id).to.equal('c');
  });

  it('removes the head so the next item comes out first', () => {
    const fifo = fifoOf('a', 'b', 'c');

    fifo.remove('a');

    expect(idsOf(fifo)).to.deep.equal(['b', 'c']);
    expect(fifo.shift()?.id).to.equal('b');
  });

  it('removes the tail so later pushes follow the new last item', () => {
    const fifo = fifoOf('a', 'b', 'c');

    fifo.remove('c');
    fifo.push({ id: 'd' });

    expect(idsOf(fifo)).to.deep.equal(['a', 'b', 'd']);
  });

  it('empties fully when its only item is removed, then fills again', () => {
    const fifo = fifoOf('a');

    fifo.remove('a');
    expect(fifo.size).to.equal(0);
    expect(idsOf(fifo)).to.deep.equal([]);
    expect(fifo.shift()).to.equal(undefined);

    fifo.push({ id: 'b' });
    expect(idsOf(fifo)).to.deep.equal(['b']);
  });

  it('iterates correctly after removals at both ends and between', () => {
    const fifo = fifoOf('a', 'b', 'c', 'd', 'e', 'f');

    fifo.remove('a');
    fifo.remove('c');
    fifo.remove('f');
    fifo.shift();
    fifo.push({ id: 'g' });

    expect(idsOf(fifo)).to.deep.equal(['d', 'e', 'g']);
  });

  it('forgets removed and shifted ids', () => {
    const fifo = fifoOf('a', 'b');

    fifo.shift();
    fifo.remove('b');

    expect(fifo.has('a')).to.equal(false);
    expect(fifo.has('b')).to.equal(false);
    expect(fifo.get('b')).to.equal(undefined);
    expect(fifo.remove('b')).to.equal(undefined);
  });

  it('throws on a second push of an id it holds, and stays unchanged', () => {
    const fifo = fifoOf('a', 'b');

    expect(() => fifo.push({ id: 'a' })).to.throw(/already queued: a/);
    expect(idsOf(fifo)).to.deep.equal(['a', 'b']);
    expect(fifo.size).to.equal(2);
  });

  it('takes an id again once it has left', () => {
    const fifo = fifoOf('a', 'b');

    fifo.remove('a');
    fifo.push({ id: 'a' });

    expect(idsOf(fifo)).to.deep.equal(['b', 'a']);
  });
});
