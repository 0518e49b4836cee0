/**
 * Connected pairs of Unix stream sockets: a command gets one end as both
 * stdout and stderr, whoever reads its output gets the other.
 *
 * Node gives a child one socket pair per piped stdio stream and has no
 * way to make one pair serve both, so stdout and stderr would need two
 * ends read and, through the spawn helper, two handles handed over, each
 * waiting for the other side's acknowledgement. One end shared by fd 1
 * and fd 2 also keeps the two streams in the order the command wrote
 * them. The pairs come from a socket listening in a directory of its own
 * (mode 0700, so only this user can connect), made a few ahead.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Pairs kept connected ahead of need. */
const SPARE_PAIRS = 4;

/** One connection: the command writes into `writer`, `reader` reads it. */
export interface OutputPair {
  writer: Socket;
  /** Not reading yet: created paused, so every byte is left for its owner. */
  reader: Socket;
}

export class OutputPairs {
  #dir: string;
  #path: string;
  #server: Server;
  /** Writers connected or connecting, in order, awaiting their reader. */
  #connecting: Socket[] = [];
  #ready: OutputPair[] = [];
  #waiting: Array<{
    resolve: (pair: OutputPair) => void;
    reject: (error: Error) => void;
  }> = [];
  #closed: Error | null = null;

  constructor() {
    this.#dir = mkdtempSync(join(tmpdir(), 'dispatcher-output-'));
    this.#path = join(this.#dir, 'output.sock');
    this.#server = createServer({ pauseOnConnect: true }, (reader) => {
      this.#accepted(reader);
    });
    this.#server.on('error', (error) => this.#end(error));
    this.#server.listen(this.#path, () => this.#fill());
    this.#server.unref();
  }

  /** A connected pair, made at once or as soon as one is. */
  take(): Promise<OutputPair> {
    if (this.#closed) return Promise.reject(this.#closed);
    const pair = this.#ready.shift();
    pair?.reader.ref();
    const taken = pair
      ? Promise.resolve(pair)
      : new Promise<OutputPair>((resolve, reject) => {
        // Someone waits: the process must live until the pair is made.
        this.#server.ref();
        this.#waiting.push({ resolve, reject });
      });
    this.#fill();
    return taken;
  }

  /** Stops listening and removes the directory; spare pairs are closed. */
  close(): void {
    this.#end(new Error('no more output pairs: closed'));
  }

  #fill(): void {
    if (this.#closed || !this.#server.listening) return;
    const wanted = SPARE_PAIRS + this.#waiting.length;
    while (this.#ready.length + this.#connecting.length < wanted) {
      const writer = createConnection(this.#path);
      writer.on('error', (error) => this.#broken(writer, error));
      writer.unref();
      this.#connecting.push(writer);
    }
  }

  /**
   * A writer that failed to connect gets no reader: take it out of the
   * line, or the next reader would be paired with it. The oldest waiter
   * gets the error rather than waiting on a connection that failed.
   */
  #broken(writer: Socket, error: Error): void {
    const index = this.#connecting.indexOf(writer);
    if (index >= 0) {
      this.#connecting.splice(index, 1);
      this.#waiting.shift()?.reject(error);
      return;
    }
    const spare = this.#ready.findIndex((pair) => pair.writer === writer);
    if (spare >= 0) this.#ready.splice(spare, 1)[0].reader.destroy();
  }

  /** Connections are accepted in the order they were made. */
  #accepted(reader: Socket): void {
    const writer = this.#connecting.shift();
    if (!writer) {
      reader.destroy();
      return;
    }
    reader.unref();
    const pair = { writer, reader };
    const waiter = this.#waiting.shift();
    if (!waiter) {
      this.#ready.push(pair);
      return;
    }
    reader.ref();
    if (this.#waiting.length === 0) this.#server.unref();
    waiter.resolve(pair);
  }

  #end(error: Error): void {
    if (this.#closed) return;
    this.#closed = error;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
    for (const pair of this.#ready.splice(0)) {
      pair.writer.destroy();
      pair.reader.destroy();
    }
    for (const writer of this.#connecting.splice(0)) writer.destroy();
    this.#server.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
