/**
 * A WebSocket client for the dispatcher protocol, used by the command
 * line and by the specs. Replies are matched to requests by id; events
 * go to listeners.
 */
import { EventEmitter } from 'node:events';

import WebSocket from 'ws';

/** An error reply, or a failure to reach the server. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  /** The wire error code (401, 403, ...), or 0 for connection faults. */
  readonly code: number;
  readonly detail: string;

  constructor(code: number, message: string, detail = '') {
    super(detail ? `${message}: ${detail}` : message);
    this.code = code;
    this.detail = detail;
  }
}

function refusalReason(code: number): string {
  if (code === 403) {
    return 'this address is locked out after failed logins, or its ' +
      'origin or host name is not allowed';
  }
  if (code === 429) return 'too many connections from this address';
  return 'see the server log';
}

/** A message as it arrives from the server. */
export interface Message {
  namespace: string;
  name: string;
  id: string | number;
  args: any;
}

export interface Credentials {
  user: string;
  password: string;
}

/**
 * A connection to the server. Emits `event` for each event, and `reply`
 * for each reply or error to a request, both in the order they arrive:
 * a `reply` comes before the request's promise settles, so a listener
 * can tell the events sent before a reply from those sent after it.
 */
export class Client extends EventEmitter<{
  event: [Message];
  reply: [Message];
  close: [];
}> {
  readonly url: string;
  #socket: WebSocket;
  #next = 1;
  #waiting = new Map<string, {
    resolve: (args: any) => void;
    reject: (error: Error) => void;
  }>();

  private constructor(url: string, socket: WebSocket) {
    super();
    this.url = url;
    this.#socket = socket;
    socket.on('message', (data) => this.#receive(data.toString()));
    socket.on('close', () => {
      const error = new ClientError(0, 'the server closed the connection');
      for (const waiter of this.#waiting.values()) waiter.reject(error);
      this.#waiting.clear();
      this.emit('close');
    });
  }

  /** Opens a connection, and logs in when credentials are given. */
  static async connect(
    url: string,
    credentials?: Credentials
  ): Promise<Client> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', (error: NodeJS.ErrnoException) => {
        // The server answered the upgrade with an HTTP error: say so.
        const refused = /Unexpected server response: (\d+)/
          .exec(error.message);
        if (refused) {
          const code = Number(refused[1]);
          reject(new ClientError(code, `the dispatcher at ${url} refused ` +
            `the connection (HTTP ${code})`, refusalReason(code)));
          return;
        }
        const reason =
          error.code === 'ECONNREFUSED' ? 'connection refused' : error.message;
        reject(new ClientError(0, `cannot reach the dispatcher at ${url}`,
          reason));
      });
    });
    socket.on('error', () => {});
    const client = new Client(url, socket);
    if (credentials) {
      try {
        await client.request('rpc', 'auth', {
          username: credentials.user,
          password: credentials.password
        });
      } catch (error) {
        await client.close();
        throw error;
      }
    }
    return client;
  }

  /** Sends a request; resolves with the reply's args. */
  request(namespace: string, name: string, args: unknown): Promise<any> {
    const id = `c${this.#next++}`;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify({ namespace, name, id, args }));
    });
  }

  /** Sends a request that gets no reply (such as `rpc/auth_clear`). */
  notify(namespace: string, name: string, args: unknown): void {
    this.#socket.send(JSON.stringify({ namespace, name, id: '', args }));
  }

  /** Shorthand for `rpc/dispatcher` requests. */
  dispatcher(args: Record<string, unknown>): Promise<any> {
    return this.request('rpc', 'dispatcher', args);
  }

  /** Subscribes to `dispatcher` events; they arrive as `'event'`. */
  subscribe(): Promise<any> {
    return this.request('events', 'subscribe', ['dispatcher']);
  }

  close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.close();
    });
  }

  #receive(text: string): void {
    const message = JSON.parse(text) as Message;
    if (message.namespace === 'events' && message.name !== 'response' &&
        message.name !== 'error') {
      this.emit('event', message);
      return;
    }
    const waiter = this.#waiting.get(String(message.id));
    if (!waiter) return;
    this.emit('reply', message);
    this.#waiting.delete(String(message.id));
    if (message.name === 'error') {
      const { code, message: text, detail } = message.args ?? {};
      waiter.reject(new ClientError(code ?? 0, text ?? 'error', detail ?? ''));
    } else {
      waiter.resolve(message.args);
    }
  }
}
