/**
 * Starts and stops the baseline WebSocket server (`bench/echo-server.ts`)
 * as a separate process, like the dispatcher, so both are measured from
 * the same client over the same loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

import { Client } from '../../lib/client/client.js';
import { markedEnv, memoryOf, type Memory } from './processes.js';

const script = fileURLToPath(new URL('../echo-server.js', import.meta.url));

/** Longest wait for the baseline server to listen, ms. */
const START_TIMEOUT_MS = 10_000;

const running = new Set<EchoServer>();

/** One baseline server process. */
export class EchoServer {
  readonly url: string;
  readonly pid: number;
  #child: ChildProcess;
  #clients: Client[] = [];

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.pid = child.pid!;
    this.url = `ws://127.0.0.1:${port}`;
  }

  /**
   * Starts the server in `echo` mode (every message sent back) or
   * `replay` mode (every request answered with one stored reply).
   */
  static async start(mode: 'echo' | 'replay' = 'echo'): Promise<EchoServer> {
    const child = spawn(process.execPath, [script, mode], {
      env: markedEnv(),
      stdio: ['ignore', 'pipe', 'inherit']
    });
    const port = await Promise.race([
      readPort(child),
      new Promise<never>((_, reject) => setTimeout(
        () => reject(new Error('the echo server did not start')),
        START_TIMEOUT_MS
      ).unref())
    ]).catch((error) => {
      child.kill('SIGKILL');
      throw error;
    });
    const server = new EchoServer(child, port);
    running.add(server);
    return server;
  }

  /** A client connection; needs no login. */
  async connect(): Promise<Client> {
    const client = await Client.connect(this.url);
    this.#clients.push(client);
    return client;
  }

  /** Stores the reply that `replay` mode sends to every request. */
  async store(args: unknown): Promise<void> {
    const client = await this.connect();
    await client.request('rpc', 'store', args);
  }

  memory(): Memory {
    const memory = memoryOf(this.pid);
    if (!memory) throw new Error(`echo server ${this.pid} is gone`);
    return memory;
  }

  async stop(): Promise<void> {
    running.delete(this);
    await Promise.all(this.#clients.map((client) => client.close()));
    this.#clients = [];
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
      return;
    }
    const exited = once(this.#child, 'exit');
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Stops every baseline server still running. */
export async function stopAllEchoServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const end = text.indexOf('\n');
      if (end >= 0) resolve((JSON.parse(text.slice(0, end)) as {
        port: number;
      }).port);
    });
    child.once('exit', () =>
      reject(new Error('the echo server exited before it listened')));
  });
}
