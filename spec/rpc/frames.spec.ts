import type { Writable } from 'node:stream';

import { expect } from 'chai';
import * as ws from 'ws';

import { textFrames } from '../../lib/rpc/frames.js';

/** ws's frame parser, which its type declarations leave out. */
const { Receiver } = ws as unknown as {
  Receiver: new (options: { maxPayload: number }) => Writable;
};

/** The messages ws reads back from `chunks`, written in order. */
function read(chunks: Buffer[]): Promise<string[]> {
  const receiver = new Receiver({ maxPayload: 0 });
  const messages: string[] = [];
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    expect(isBinary).to.equal(false);
    messages.push(String(data));
  });
  return new Promise((resolve, reject) => {
    receiver.on('error', reject);
    for (const chunk of chunks) receiver.write(chunk);
    receiver.end(() => resolve(messages));
  });
}

describe('text frames made once', function () {
  it('frame every payload length a header can hold', async function () {
    const lengths = [0, 1, 125, 126, 127, 65535, 65536, 70000, 300000];
    const texts = lengths.map((length, i) =>
      String.fromCharCode(97 + i).repeat(length));
    const chunks = textFrames(texts.map((text) => Buffer.from(text)));
    expect(await read(chunks)).to.deep.equal(texts);
  });

  it('join small frames into one buffer and leave large payloads as they are',
    async function () {
      const large = Buffer.from('x'.repeat(200000));
      const payloads = [Buffer.from('{"a":1}'), Buffer.from('é✓'), large,
        Buffer.from('{"b":2}')];
      const chunks = textFrames(payloads);
      expect(chunks).to.have.length(3);
      expect(chunks[1]).to.equal(large);
      expect(await read(chunks))
        .to.deep.equal(payloads.map((payload) => String(payload)));
    });

  it('give nothing for no payloads', function () {
    expect(textFrames([])).to.deep.equal([]);
  });
});
