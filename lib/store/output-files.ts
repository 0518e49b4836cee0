/**
 * Job output on disk: one file per command, `output/<key>-<index>.log`
 * in the data directory, holding the command's stdout and stderr merged
 * in arrival order.
 *
 * A job writes at most `capBytes` over all its commands; what goes past
 * the cap is dropped and the file ends with a marker line saying so. A
 * full disk (or any write error) also ends the job's output with the
 * truncated flag set; the job itself carries on.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Ends a file cut short by the cap. */
export function capMarker(capBytes: number): string {
  return `\n[... output truncated: the job reached its ${capBytes}-byte cap ...]\n`;
}

/** What a job's writer ends with. */
export interface WrittenOutput {
  /** Bytes written per command index (markers excluded). */
  bytes: number[];
  truncated: boolean;
}

/** A page of one command's output. */
export interface OutputPage {
  offset: number;
  /** Bytes in this page; `offset + bytes` is the next page's offset. */
  bytes: number;
  text: string;
  /** Size of the file now. */
  totalBytes: number;
  eof: boolean;
}

/** Called on a write error; return value ignored. */
export type WriteFault = (key: number, error: NodeJS.ErrnoException) => void;

export class OutputFiles {
  readonly directory: string;
  /** Most bytes one job writes, over all its commands. */
  readonly capBytes: number;
  #onFault: WriteFault;

  constructor(dataDir: string, capBytes: number, onFault: WriteFault) {
    this.directory = join(dataDir, 'output');
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    this.capBytes = capBytes;
    this.#onFault = onFault;
  }

  path(key: number, index: number): string {
    return join(this.directory, `${key}-${index}.log`);
  }

  /** Starts writing a job's output. */
  writer(key: number): JobOutputWriter {
    return new JobOutputWriter(this, key, this.#onFault);
  }

  /**
   * Reads up to `length` bytes of a command's output from `offset`. The
   * page ends on a character boundary (unless the file ends first), so
   * pages joined in order give back the exact text; a `length` shorter
   * than the character at `offset` still gets that one character.
   */
  async read(
    key: number,
    index: number,
    offset: number,
    length: number
  ): Promise<OutputPage | null> {
    let file;
    try {
      file = await open(this.path(key, index), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const { size } = await file.stat();
      const start = Math.min(offset, size);
      // Room for one whole character, so a page always moves on.
      const buffer = Buffer.alloc(Math.min(Math.max(length, 4), size - start));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, start);
      let end = Math.min(bytesRead, length);
      if (start + end < size) end = characterBoundary(buffer, end);
      if (end === 0 && bytesRead > 0) {
        end = Math.min(characterSize(buffer[0]), bytesRead);
      }
      return {
        offset: start,
        bytes: end,
        text: buffer.subarray(0, end).toString('utf8'),
        totalBytes: size,
        eof: start + end >= size
      };
    } finally {
      await file.close();
    }
  }

  /** Deletes the output files of these jobs. */
  async remove(key: number, commands: number): Promise<void> {
    for (let index = 0; index < commands; index++) {
      await rm(this.path(key, index), { force: true });
    }
  }
}

/** Bytes in the UTF-8 sequence a lead byte starts. */
function characterSize(lead: number): number {
  return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
}

/** The length of the longest prefix that ends on a whole character. */
function characterBoundary(buffer: Buffer, length: number): number {
  // Walk back over at most three continuation bytes to a lead byte and
  // keep it only if its whole sequence fits.
  for (let back = 1; back <= 4 && back <= length; back++) {
    const byte = buffer[length - back];
    if ((byte & 0xc0) === 0x80) continue;
    return characterSize(byte) <= back ? length : length - back;
  }
  return length;
}

/** Writes one job's output, command by command. */
export class JobOutputWriter {
  readonly key: number;
  #files: OutputFiles;
  #onFault: WriteFault;
  #streams: WriteStream[] = [];
  #bytes: number[] = [];
  #total = 0;
  #truncated = false;
  #stopped = false;

  constructor(files: OutputFiles, key: number, onFault: WriteFault) {
    this.#files = files;
    this.key = key;
    this.#onFault = onFault;
  }

  /** Bytes written per command so far, and whether output was cut. */
  get written(): WrittenOutput {
    return {
      bytes: Array.from(this.#bytes, (bytes) => bytes ?? 0),
      truncated: this.#truncated
    };
  }

  /** Appends text to a command's file. */
  write(index: number, text: string): void {
    if (this.#stopped) return;
    let data = Buffer.from(text, 'utf8');
    const room = this.#files.capBytes - this.#total;
    const over = data.length > room;
    if (over) data = data.subarray(0, characterBoundary(data, room));
    const stream = this.#stream(index);
    if (data.length > 0) stream.write(data);
    this.#bytes[index] = (this.#bytes[index] ?? 0) + data.length;
    this.#total += data.length;
    if (over) {
      stream.write(capMarker(this.#files.capBytes));
      this.#truncated = true;
      this.#stopped = true;
    }
  }

  /**
   * Flushes and closes every file. Resolves with what really reached
   * the disk: a write that failed after `write()` returned (a full disk)
   * shows here as fewer bytes and `truncated`.
   */
  async close(): Promise<WrittenOutput> {
    await Promise.all(this.#streams.filter(Boolean).map(
      (stream) => new Promise<void>((resolve) => {
        if (stream.destroyed) return resolve();
        stream.end(() => resolve());
        stream.once('error', () => resolve());
      })
    ));
    const written = Array.from(this.#bytes, (bytes) => bytes ?? 0);
    const bytes = await Promise.all(written.map(async (_, index) => {
      if (!this.#streams[index]) return 0;
      try {
        return (await stat(this.#files.path(this.key, index))).size;
      } catch {
        return 0;
      }
    }));
    // The cap marker is on disk but not output.
    const counted = bytes.map((size, index) => Math.min(size, written[index]));
    const short = counted.some((size, index) => size < written[index]);
    return { bytes: counted, truncated: this.#truncated || short };
  }

  #stream(index: number): WriteStream {
    let stream = this.#streams[index];
    if (!stream) {
      this.#bytes[index] ??= 0;
      stream = createWriteStream(this.#files.path(this.key, index), {
        mode: 0o600
      });
      stream.on('error', (error: NodeJS.ErrnoException) => {
        this.#truncated = true;
        this.#stopped = true;
        this.#onFault(this.key, error);
      });
      this.#streams[index] = stream;
    }
    return stream;
  }
}
