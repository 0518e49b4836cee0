/**
 * The real server, started as its own process the way an administrator
 * starts it (`bin/dispatcher.js serve`), on free loopback ports with a
 * fresh data directory, so that its memory can be read from /proc and
 * nothing of the benchmark runs inside it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '../../lib/client/client.js';
import {
  freePort,
  markedEnv,
  memoryOf,
  waitUntil,
  type Memory
} from './processes.js';

/** The repository root, three levels above dist/bench/harness/. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** How the server is started. */
export interface ServerOptions {
  /** Name used for its profile files. */
  name: string;
  /** `--queue NAME=LIMIT` settings; default `no_queue=16`. */
  queues?: string[];
  /** Extra `serve` flags, such as `--grace 5`. */
  flags?: string[];
  /**
   * Directory for a CPU profile of the whole server run (`--cpu-prof`),
   * written when it stops; null for none.
   */
  profileDir?: string | null;
  /** Lets {@link BenchServer.heapSnapshot} write snapshots there. */
  heapDir?: string | null;
}

/** Longest wait for a server to accept WebSocket connections, ms. */
const START_TIMEOUT_MS = 15_000;

/**
 * Longest wait for a stopping server; it kills running jobs with their
 * grace period first, 5 s by default. Then it gets SIGKILL.
 */
const STOP_TIMEOUT_MS = 15_000;

/** Servers not yet stopped, so a failing run can still stop them. */
const running = new Set<BenchServer>();

/** One server process and the clients connected to it. */
export class BenchServer {
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
  #child: ChildProcess;
  #exited: Promise<void>;
  #password = '';
  #token: string | null = null;
  #clients: Client[] = [];
  #stderr = '';
  #log = '';

  private constructor(child: ChildProcess, url: string, dataDir: string) {
    this.#child = child;
    this.pid = child.pid!;
    this.url = url;
    this.dataDir = dataDir;
    this.#exited = new Promise((resolve) => child.once('exit', () => {
      running.delete(this);
      resolve();
    }));
    // Keep the last few kilobytes of its complaints for error messages,
    // and of its log (warnings and errors only) for the scenarios.
    child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4096);
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      this.#log = (this.#log + chunk.toString()).slice(-65536);
    });
  }

  /** Starts a server and resolves once its WebSocket accepts clients. */
  static async start(options: ServerOptions): Promise<BenchServer> {
    const dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-bench-'));
    const [wsPort, restPort] = [await freePort(), await freePort()];
    const node = nodeFlags(options);
    const args = [
      ...node,
      join(repoRoot, 'bin/dispatcher.js'), 'serve',
      '--host', '127.0.0.1',
      '--ws-port', String(wsPort),
      '--rest-port', String(restPort),
      '--data-dir', dataDir,
      '--log-level', 'warn',
      ...(options.queues ?? ['no_queue=16']).flatMap((q) => ['--queue', q]),
      ...(options.flags ?? [])
    ];
    // Jobs run in the server's working directory: keep them out of the
    // repository.
    const child = spawn(process.execPath, args, {
      cwd: dataDir,
      env: markedEnv(),
      stdio: ['ignore', 'pipe', 'pipe']
    });
    const server = new BenchServer(child, `ws://127.0.0.1:${wsPort}`,
      dataDir);
    running.add(server);
    try {
      await server.#ready();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** The admin password the server created at its first start. */
  get password(): string {
    return this.#password;
  }

  /** The last 64 KiB of its log: JSON lines at `warn` and above. */
  get log(): string {
    return this.#log;
  }

  /** Current and peak resident memory, bytes. */
  memory(): Memory {
    const memory = memoryOf(this.pid);
    if (!memory) throw new Error(this.#gone());
    return memory;
  }

  /**
   * A client logged in as admin. The first one logs in with the
   * password; the others reuse its token, since each password check
   * costs the server a deliberately slow scrypt hash.
   */
  async connect(): Promise<Client> {
    const client = await Client.connect(this.url);
    this.#clients.push(client);
    if (this.#token === null) {
      const [token] = await client.request('rpc', 'auth', {
        username: 'admin',
        password: this.#password
      });
      this.#token = token as string;
    } else {
      await client.request('rpc', 'auth_token', { token: this.#token });
    }
    return client;
  }

  /**
   * Asks the server for a heap snapshot (SIGUSR2) and waits until it has
   * been written. Works only when started with `heapDir`.
   */
  async heapSnapshot(): Promise<void> {
    this.#child.kill('SIGUSR2');
    // Writing the snapshot blocks the server; a ping gets through after.
    const client = await this.connect();
    await client.request('rpc', 'identify', {});
  }

  /**
   * Closes the clients, stops the server with SIGTERM (it kills its
   * running jobs) and removes its data directory; SIGKILL if it takes
   * longer than {@link STOP_TIMEOUT_MS}.
   */
  async stop(): Promise<void> {
    await Promise.all(this.#clients.map((client) =>
      Promise.race([client.close(), sleep(1000)])));
    this.#clients = [];
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGTERM');
      const stopped = await Promise.race([
        this.#exited.then(() => true),
        sleep(STOP_TIMEOUT_MS).then(() => false)
      ]);
      if (!stopped) {
        this.#child.kill('SIGKILL');
        await this.#exited;
      }
    }
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /** Why the server is not there, with its last words. */
  #gone(): string {
    const { exitCode, signalCode } = this.#child;
    return `server ${this.pid} is gone (exit ${exitCode ?? signalCode})` +
      (this.#stderr ? `:\n${this.#stderr}` : '');
  }

  async #ready(): Promise<void> {
    const passwordFile = join(this.dataDir, 'admin-password');
    await waitUntil(async () => {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
        throw new Error(`at start: ${this.#gone()}`);
      }
      try {
        this.#password = (await readFile(passwordFile, 'utf8')).trim();
        const probe = await Client.connect(this.url);
        await probe.close();
        return true;
      } catch {
        return false;
      }
    }, 'the server to accept connections', START_TIMEOUT_MS, 20);
  }
}

/** Stops every server still running; for the way out of a failed run. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

function nodeFlags(options: ServerOptions): string[] {
  const flags: string[] = [];
  if (options.profileDir) {
    mkdirSync(options.profileDir, { recursive: true });
    flags.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`,
      `--cpu-prof-name=${options.name}.cpuprofile`);
  }
  if (options.heapDir) {
    mkdirSync(options.heapDir, { recursive: true });
    flags.push('--heapsnapshot-signal=SIGUSR2',
      `--diagnostic-dir=${options.heapDir}`);
  }
  return flags;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
