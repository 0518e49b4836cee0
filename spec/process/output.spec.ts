import { expect } from 'chai';

import { OutputBuffer } from '../../lib/process/output.js';

const marker = (n: number) => `\n[... ${n} bytes of output omitted ...]\n`;

describe('OutputBuffer', () => {
  it('keeps all output that fits the limit', () => {
    const output = new OutputBuffer(10);
    output.append(Buffer.from('abcd'));
    output.append(Buffer.from('efghij'));

    expect(output.text()).to.equal('abcdefghij');
    expect(output.totalBytes).to.equal(10);
    expect(output.omittedBytes).to.equal(0);
  });

  it('keeps the first and last halves and counts the bytes between', () => {
    const output = new OutputBuffer(7);
    for (const piece of ['012', '3456789', 'ab', 'cdef']) {
      output.append(Buffer.from(piece));
    }

    expect(output.bytes().toString()).to.equal('012cdef');
    expect(output.totalBytes).to.equal(16);
    expect(output.omittedBytes).to.equal(9);
  });

  it('keeps only the end of a chunk bigger than the whole limit', () => {
    const output = new OutputBuffer(6);
    output.append(Buffer.from('0123456789abcdefghij'));

    expect(output.bytes().toString()).to.equal('012hij');
    expect(output.omittedBytes).to.equal(14);
  });

  it('joins head and tail with the omission marker', () => {
    const output = new OutputBuffer(8);
    output.append(Buffer.from('line one\nline two\nline three\n'));

    expect(output.text()).to.equal(`line${marker(21)}ree\n`);
  });

  it('never shows a broken character on either side of the marker', () => {
    // Head of 5 bytes ends inside '😀'; tail of 6 starts inside '€'.
    const output = new OutputBuffer(11);
    output.append(Buffer.from('ab😀cd'));
    output.append(Buffer.from('x'.repeat(100)));
    output.append(Buffer.from('€wxyz'));

    const text = output.text();
    expect(text).to.equal(`ab${marker(output.omittedBytes)}wxyz`);
    expect(text).not.to.include('\uFFFD');
  });

  it('keeps a character that ends exactly at the head boundary', () => {
    const output = new OutputBuffer(10);
    output.append(Buffer.from('ab€zzzzzzzzzzzz1234'));

    expect(output.text()).to.equal(`ab€${marker(11)}z1234`);
  });

  it('keeps nothing with a limit of zero but still counts', () => {
    const output = new OutputBuffer(0);
    output.append(Buffer.from('hello'));

    expect(output.text()).to.equal(marker(5));
    expect(output.totalBytes).to.equal(5);
  });

  it('does not keep a reference to appended chunks', () => {
    const output = new OutputBuffer(4);
    const chunk = Buffer.from('abcdef');
    output.append(chunk);
    chunk.fill('z');

    expect(output.bytes().toString()).to.equal('abef');
  });

  it('takes 1 GB in 64 KiB chunks quickly and in bounded memory', () => {
    const output = new OutputBuffer(1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const before = process.memoryUsage().arrayBuffers;
    const startedAt = Date.now();

    for (let i = 0; i < 16 * 1024; i++) output.append(chunk);

    expect(Date.now() - startedAt).to.be.below(5000);
    expect(process.memoryUsage().arrayBuffers - before)
      .to.be.below(4 * 1024 * 1024);
    expect(output.totalBytes).to.equal(1024 ** 3);
    expect(output.omittedBytes).to.equal(1024 ** 3 - 1024 * 1024);
  });

  it('rejects a limit that is not a non-negative integer', () => {
    expect(() => new OutputBuffer(-1)).to.throw(RangeError);
    expect(() => new OutputBuffer(1.5)).to.throw(RangeError);
    expect(() => new OutputBuffer(Number.NaN)).to.throw(RangeError);
  });
});
