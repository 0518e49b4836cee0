/**
 * Bounded capture of one command's output.
 *
 * A job may print gigabytes; the supervisor keeps only the start (where
 * usage errors and banners are) and the end (where the failure is), and
 * counts what it dropped in between.
 */

/** Output limit callers use when the user sets none: 1 MiB. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

/** Smallest head allocation, so tiny outputs do not regrow many times. */
const MIN_HEAD_CAPACITY = 4096;

/**
 * The first `floor(limit / 2)` bytes and the last `limit - floor(limit / 2)`
 * bytes of everything appended, plus counters.
 *
 * Memory stays within the limit whatever is appended: the head grows by
 * doubling up to its half, and the tail is a fixed ring allocated the first
 * time the head is full. Each appended byte is copied at most once.
 */
export class OutputBuffer {
  /** The limit given to the constructor, in bytes. */
  readonly limitBytes: number;

  #headLimit: number;
  #tailLimit: number;
  #head: Buffer = Buffer.alloc(0);
  #headBytes = 0;
  #ring: Buffer | null = null;
  // Where the next tail byte goes; once the ring is full this is also
  // where its oldest byte is.
  #ringEnd = 0;
  #ringBytes = 0;
  #total = 0;

  /**
   * @param limitBytes bytes to keep in all, a non-negative integer;
   *   callers default to {@link DEFAULT_MAX_OUTPUT_BYTES}
   * @throws {RangeError} when the limit is negative or not an integer
   */
  constructor(limitBytes: number) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes < 0) {
      throw new RangeError(
        `output limit must be a non-negative integer, got ${limitBytes}`,
      );
    }
    this.limitBytes = limitBytes;
    this.#headLimit = Math.floor(limitBytes / 2);
    this.#tailLimit = limitBytes - this.#headLimit;
  }

  /** Bytes ever appended, kept or not. */
  get totalBytes(): number {
    return this.#total;
  }

  /** Bytes dropped from the middle: `totalBytes` minus the bytes kept. */
  get omittedBytes(): number {
    return this.#total - this.#headBytes - this.#ringBytes;
  }

  /**
   * Adds output. The chunk is copied, never retained, so the caller may
   * reuse it.
   */
  append(chunk: Buffer): void {
    this.#total += chunk.length;

    let rest = chunk;
    const headRoom = this.#headLimit - this.#headBytes;
    if (headRoom > 0) {
      const take = Math.min(headRoom, rest.length);
      this.#growHead(this.#headBytes + take);
      rest.copy(this.#head, this.#headBytes, 0, take);
      this.#headBytes += take;
      rest = rest.subarray(take);
    }

    if (rest.length > 0) this.#appendTail(rest);
  }

  /** The kept bytes, head then tail, without any marker. */
  bytes(): Buffer {
    return Buffer.concat([this.#headView(), this.#tailView()]);
  }

  /**
   * The kept output as UTF-8 text. When bytes were omitted the head and
   * tail are joined by the line `[... N bytes of output omitted ...]`, and
   * a character cut by the omission is dropped from its side rather than
   * shown broken; N counts only the omitted bytes, not those dropped
   * characters.
   */
  text(): string {
    const head = this.#headView();
    const tail = this.#tailView();
    const omitted = this.omittedBytes;
    if (omitted === 0) return Buffer.concat([head, tail]).toString('utf8');

    const headText = head.subarray(0, completeLength(head)).toString('utf8');
    const tailText = tail.subarray(continuationPrefix(tail)).toString('utf8');
    return `${headText}\n[... ${omitted} bytes of output omitted ...]\n` +
      tailText;
  }

  #growHead(needed: number): void {
    if (needed <= this.#head.length) return;
    const capacity = Math.min(
      this.#headLimit,
      Math.max(needed, this.#head.length * 2, MIN_HEAD_CAPACITY),
    );
    const grown = Buffer.allocUnsafe(capacity);
    this.#head.copy(grown, 0, 0, this.#headBytes);
    this.#head = grown;
  }

  #appendTail(bytes: Buffer): void {
    const size = this.#tailLimit;
    if (size === 0) return;

    // Only the last `size` bytes of a big chunk can survive anyway.
    const kept = bytes.length > size ? bytes.subarray(bytes.length - size)
      : bytes;
    this.#ring ??= Buffer.allocUnsafe(size);

    const first = Math.min(kept.length, size - this.#ringEnd);
    kept.copy(this.#ring, this.#ringEnd, 0, first);
    kept.copy(this.#ring, 0, first);
    this.#ringEnd = (this.#ringEnd + kept.length) % size;
    this.#ringBytes = Math.min(size, this.#ringBytes + kept.length);
  }

  #headView(): Buffer {
    return this.#head.subarray(0, this.#headBytes);
  }

  #tailView(): Buffer {
    const ring = this.#ring;
    if (ring === null) return Buffer.alloc(0);
    // Until the ring first fills, its bytes start at 0 and do not wrap.
    if (this.#ringBytes < ring.length) return ring.subarray(0, this.#ringEnd);
    return Buffer.concat([
      ring.subarray(this.#ringEnd),
      ring.subarray(0, this.#ringEnd),
    ]);
  }
}

/** Bytes in a UTF-8 sequence that starts with `lead`; 1 if not a lead. */
function sequenceLength(lead: number): number {
  if (lead >= 0xf0 && lead <= 0xf7) return 4;
  if (lead >= 0xe0) return lead <= 0xef ? 3 : 1;
  if (lead >= 0xc0) return 2;
  return 1;
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * Length of `bytes` without an incomplete UTF-8 sequence at its end.
 * Looks back at most three bytes: anything longer is not UTF-8 and is left
 * for the decoder to replace.
 */
function completeLength(bytes: Buffer): number {
  const stop = Math.max(0, bytes.length - 4);
  let lead = bytes.length - 1;
  while (lead >= stop && isContinuation(bytes[lead]!)) lead--;
  if (lead < stop) return bytes.length;

  const missing = sequenceLength(bytes[lead]!) > bytes.length - lead;
  return missing ? lead : bytes.length;
}

/** Leading continuation bytes of `bytes`: the rest of a cut character. */
function continuationPrefix(bytes: Buffer): number {
  let count = 0;
  while (count < 3 && count < bytes.length && isContinuation(bytes[count]!)) {
    count++;
  }
  return count;
}
