/**
 * A real server on ephemeral loopback ports with a fresh data directory,
 * and clients to talk to it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pino, type Logger } from 'pino';
import WebSocket from 'ws';

import { Client, type Message } from '../../lib/client/client.js';
import { OutputFollower } from '../../lib/client/output.js';
import { defaults, type ServerConfig } from '../../lib/config.js';
import { DispatcherServer } from '../../lib/server.js';

export interface TestServer {
  server: DispatcherServer;
  wsUrl: string;
  restUrl: string;
  adminPassword: string;
  dataDir: string;
  /** A client logged in as admin. */
  connect(user?: string, password?: string): Promise<Client>;
  stop(): Promise<void>;
}

/**
 * Starts a server. Without `dataDir`, it gets a fresh temporary one that
 * `stop()` removes. `log` replaces the silent logger (see `captureLog`).
 */
export async function startServer(
  overrides: Partial<ServerConfig> = {},
  { log }: { log?: Logger } = {}
): Promise<TestServer> {
  const ownDir = overrides.dataDir === undefined;
  const dataDir =
    overrides.dataDir ?? (await mkdtemp(join(tmpdir(), 'dispatcher-spec-')));
  const config: ServerConfig = {
    ...defaults,
    wsPort: 0,
    restPort: 0,
    dataDir,
    jobCwd: dataDir,
    ...overrides
  };
  const server = new DispatcherServer(config, {
    log: log ?? pino({ level: process.env.SPEC_LOG ?? 'silent' })
  });
  try {
    await server.start();
  } catch (error) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const wsUrl = `ws://127.0.0.1:${server.wsPort}`;
  const adminPassword = server.adminPassword ??
    (await readFile(join(dataDir, 'admin-password'), 'utf8')).trim();
  const clients: Client[] = [];
  return {
    server,
    wsUrl,
    restUrl: `http://127.0.0.1:${server.restPort}`,
    adminPassword,
    dataDir,
    async connect(user = 'admin', password = adminPassword) {
      const client = await Client.connect(wsUrl, { user, password });
      clients.push(client);
      return client;
    },
    async stop() {
      await Promise.all(clients.map((client) => client.close()));
      await server.stop();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    }
  };
}

/** A logger that keeps every line it writes, parsed, in `lines`. */
export function captureLog(): { log: Logger; lines: any[] } {
  const lines: any[] = [];
  const log = pino({ level: 'debug' }, {
    write(text: string) {
      lines.push(JSON.parse(text));
    }
  });
  return { log, lines };
}

/** Collects a client's events and waits for particular ones. */
export class EventLog {
  readonly events: Message['args'][] = [];
  #waiters: Array<() => void> = [];

  constructor(client: Client) {
    client.on('event', (message) => {
      this.events.push(message.args);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Events of one job, in order. */
  of(id: string): Message['args'][] {
    return this.events.filter((args) => args.process_id === id);
  }

  /** Resolves with the first event matching, waiting up to timeoutMs. */
  async next(
    match: (args: Message['args']) => boolean,
    timeoutMs = 10000
  ): Promise<Message['args']> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for an event');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits until `count` events match; resolves with them. */
  async count(
    match: (args: Message['args']) => boolean,
    count: number,
    timeoutMs = 10000
  ): Promise<Message['args'][]> {
    let found: Message['args'][] = [];
    await this.next(() => {
      found = this.events.filter(match);
      return found.length >= count;
    }, timeoutMs);
    return found;
  }

  /** The `finished` event of a job. */
  finished(id: string, timeoutMs?: number): Promise<Message['args']> {
    return this.next(
      (args) => args.event === 'finished' && args.process_id === id,
      timeoutMs
    );
  }
}

/**
 * A finished job's output per command, from its `output` events, with
 * text the server withheld paged with `get`; and how many bytes could
 * not be had at all.
 */
export async function outputOf(
  client: Client,
  id: string,
  events: Message['args'][]
): Promise<{ texts: string[]; missed: number }> {
  const texts: string[] = [];
  let missed = 0;
  const follower = new OutputFollower(client, id, {
    write: (text, index) => (texts[index] = (texts[index] ?? '') + text),
    missed: (bytes) => (missed += bytes)
  });
  for (const event of events) {
    if (event.event === 'output' && event.process_id === id) {
      follower.add(event);
    }
  }
  await follower.end();
  return { texts, missed };
}

/** A bare WebSocket that records every message, for wire-level specs. */
export class RawSocket {
  readonly messages: any[] = [];
  readonly socket: WebSocket;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => this.messages.push(JSON.parse(String(data))));
  }

  static async open(url: string): Promise<RawSocket> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    return new RawSocket(socket);
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Waits for the reply with this id. */
  async reply(id: string, timeoutMs = 5000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find((m) => m.id === id);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no reply with id ${id}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** A REST request; resolves with status and parsed body. */
export async function rest(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  method = 'PUT'
): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export function basic(user: string, password: string): Record<string, string> {
  const encoded = Buffer.from(`${user}:${password}`).toString('base64');
  return { Authorization: `Basic ${encoded}` };
}

/**
 * Live (not zombie) processes of a process group, from `ps`. Zombies are
 * already dead; they only wait for init to reap them.
 */
export function liveMembers(pgid: number): number[] {
  const table = execFileSync('ps', ['-eo', 'pid=,pgid=,stat='], {
    encoding: 'utf8'
  });
  return table.trim().split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, group, stat]) => Number(group) === pgid && !stat.startsWith('Z'))
    .map(([pid]) => Number(pid));
}

/** True while any live process of the group exists. */
export function groupAlive(pgid: number): boolean {
  return liveMembers(pgid).length > 0;
}
