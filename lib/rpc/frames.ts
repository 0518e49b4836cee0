/**
 * WebSocket text frames made once and written to many connections.
 *
 * ws frames each message per connection it is sent on; an event that
 * goes to a hundred subscribers would be framed a hundred times, and a
 * batch of them written as a hundred small writes per connection. Here
 * the frames of a batch are laid out once, in as few buffers as
 * possible, and the same buffers go to every connection. Frames from a
 * server are never masked (RFC 6455, section 5.1), so the bytes do not
 * depend on the connection. Only for connections without extensions: a
 * compressed connection needs ws to deflate each message with its own
 * context.
 */

/**
 * Payloads up to this size are copied next to their neighbours into one
 * buffer; larger ones are written as they are, so a message of several
 * megabytes is not copied again. Bytes.
 */
const JOIN_LIMIT = 64 * 1024;

/** Length of the frame header for a payload of `length` bytes. */
function headerLength(length: number): number {
  if (length < 126) return 2;
  return length < 65536 ? 4 : 10;
}

/**
 * Writes the header of a final, unmasked text frame into `target` at
 * `at`; returns where the payload goes.
 */
function writeHeader(target: Buffer, at: number, length: number): number {
  target[at] = 0x81;
  if (length < 126) {
    target[at + 1] = length;
    return at + 2;
  }
  if (length < 65536) {
    target[at + 1] = 126;
    target.writeUInt16BE(length, at + 2);
    return at + 4;
  }
  target[at + 1] = 127;
  target.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
  target.writeUInt32BE(length >>> 0, at + 6);
  return at + 10;
}

/** One text frame holding `text`, in one buffer. */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const frame = Buffer.allocUnsafe(headerLength(length) + length);
  frame.write(text, writeHeader(frame, 0, length));
  return frame;
}

/**
 * The text frames of `payloads` (UTF-8 messages), in order, as few
 * buffers as possible: small frames joined, large payloads not copied.
 * Written in order, the buffers are the whole batch on the wire.
 */
export function textFrames(payloads: readonly Buffer[]): Buffer[] {
  const chunks: Buffer[] = [];
  let start = 0;
  while (start < payloads.length) {
    // The run of small payloads from `start`, and the header of the
    // large one that ends it, if any, go in one buffer.
    let end = start;
    let size = 0;
    while (end < payloads.length) {
      const length = payloads[end].length;
      size += headerLength(length);
      end++;
      if (length > JOIN_LIMIT) break;
      size += length;
    }
    const large = payloads[end - 1].length > JOIN_LIMIT;
    const joined = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = start; i < end; i++) {
      const payload = payloads[i];
      at = writeHeader(joined, at, payload.length);
      if (i < end - 1 || !large) at += payload.copy(joined, at);
    }
    chunks.push(joined);
    if (large) chunks.push(payloads[end - 1]);
    start = end;
  }
  return chunks;
}
