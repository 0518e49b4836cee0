/**
 * One WebSocket connection: its login, its requests served strictly in
 * order, its deadlines, and its side of the event stream.
 *
 * - A connection that has not logged in within the login deadline
 *   (30 s by default) is closed with 1008, as the original server did;
 *   logging out starts the deadline again.
 * - A connection that sends no request for the idle timeout (30 min)
 *   is closed with 1000, unless it is subscribed to events.
 * - Requests wait in a queue while one is served; once the queue holds
 *   a message's worth of bytes, reading from the socket pauses, so a
 *   client cannot make the server buffer without end.
 * - Replies to requests that arrived together go out in one write: a
 *   client with many requests in flight gets them together.
 * - As a subscriber, it receives events through a `WsSubscriber`, which
 *   holds output back when the client falls behind and drops a client
 *   that stopped reading.
 */
import type { Duplex } from 'node:stream';

import type { WebSocket } from 'ws';

import { RpcError } from './errors.js';
import { textFrame } from './frames.js';
import type { Caller, Services } from './handlers.js';
import { envelopeSchema, parse, type Envelope } from './schemas.js';
import { serveRequest } from './serve.js';
import { WsSubscriber } from './ws-subscriber.js';

/** The limits and periods a connection keeps to; see `ServerConfig`. */
export interface ConnectionSettings {
  loginDeadlineMs: number;
  idleTimeoutMs: number;
  maxUnsentBytes: number;
  maxMessageBytes: number;
  /** Gap between pings, ms. */
  heartbeatMs: number;
}

/** Requests waiting at most before reading pauses, whatever their size. */
const MAX_QUEUED = 64;

export class WsConnection {
  readonly socket: WebSocket;
  readonly caller: Caller;
  #services: Services;
  #settings: ConnectionSettings;
  #chain = Promise.resolve();
  #queuedBytes = 0;
  #queued = 0;
  #subscribed = false;
  /** The socket under ws while it is corked for this turn's replies. */
  #corked: Duplex | null = null;
  /** Uncorks it once the turn is over, if nothing did before. */
  #uncorking: NodeJS.Immediate | null = null;
  #closed = false;
  #loginTimer: NodeJS.Timeout | null = null;
  #idleTimer: NodeJS.Timeout;

  constructor(
    socket: WebSocket,
    address: string,
    services: Services,
    settings: ConnectionSettings
  ) {
    this.socket = socket;
    this.#services = services;
    this.#settings = settings;
    const subscriber = new WsSubscriber(socket, address, services, settings);
    this.caller = {
      transport: 'ws',
      address,
      session: null,
      token: null,
      subscriber,
      login: (session, token) => {
        this.caller.session = session;
        this.caller.token = token;
        if (session) this.#clearLoginDeadline();
        else this.#startLoginDeadline();
      }
    };
    this.#startLoginDeadline();
    this.#idleTimer = setTimeout(() => this.#idle(), settings.idleTimeoutMs);
    socket.on('message', (data, isBinary) => this.#receive(data, isBinary));
    socket.on('close', () => this.#onClose());
  }

  #receive(data: unknown, isBinary: boolean): void {
    this.#idleTimer.refresh();
    const text = isBinary ? null : String(data);
    const size = text?.length ?? 0;
    this.#queuedBytes += size;
    this.#queued += 1;
    if (this.#queuedBytes >= this.#settings.maxMessageBytes ||
        this.#queued >= MAX_QUEUED) {
      this.socket.pause();
    }
    this.#chain = this.#chain.then(async () => {
      try {
        await this.#serve(text);
      } catch (error) {
        // A fault here must not stall the connection's later requests.
        this.#services.log.error({ err: error }, 'websocket request failed');
      } finally {
        this.#queuedBytes -= size;
        this.#queued -= 1;
        // No request waits: nothing is gained by holding replies back.
        if (this.#queued === 0) this.#uncork();
        if (this.socket.isPaused) this.socket.resume();
      }
    });
  }

  async #serve(text: string | null): Promise<void> {
    // Served even once the socket has closed: a client may send a
    // request, or its logout, and hang up without waiting for a reply.
    const { socket, caller } = this;
    // A token used on a connection expires like any other; a connection
    // does not stay logged in past its token.
    if (caller.token && !this.#services.tokens.resolveKey(caller.token)) {
      caller.login!(null, null);
    }
    let namespace = 'rpc';
    let id: string | number = '';
    let reply: unknown;
    let error: string | null = null;
    try {
      if (text === null) {
        throw new RpcError('bad_json', 'messages must be JSON text frames');
      }
      const envelope = envelopeOf(parseJson(text));
      namespace = envelope.namespace;
      id = envelope.id ?? '';
      const outcome = await serveRequest(
        envelope.namespace,
        envelope.name,
        envelope.args,
        caller,
        this.#services
      );
      if ('silent' in outcome) return;
      if (outcome.ok) this.#noteSubscription(namespace, envelope.name);
      error = outcome.ok ? null : outcome.error.error;
      reply = outcome.ok
        ? { namespace, name: 'response', id, args: outcome.args }
        : { namespace, name: 'error', id, args: outcome.error };
    } catch (thrown) {
      const args =
        thrown instanceof RpcError
          ? thrown.toArgs()
          : new RpcError('internal', 'the server failed; see its log').toArgs();
      error = args.error;
      reply = { namespace, name: 'error', id, args };
    }
    if (socket.readyState !== socket.OPEN) return;
    this.#send(JSON.stringify(reply));
    // As the original did: a locked-out address loses its connection.
    if (error === 'locked_out') socket.close(1008, 'locked out');
  }

  #noteSubscription(namespace: string, name: string): void {
    if (namespace !== 'events') return;
    if (name === 'subscribe') this.#subscribed = true;
    if (name === 'unsubscribe') this.#subscribed = false;
  }

  /**
   * Sends a reply. Replies are held back while more requests wait, for
   * at most the rest of the turn, and then go out in one write: a client
   * with many requests in flight gets them together rather than one
   * write each. Events written meanwhile stay in order with them: the
   * socket keeps the order of its writes, corked or not. Framed here
   * rather than by ws when nothing is compressed, as one buffer (see
   * frames.ts).
   */
  #send(text: string): void {
    // `_socket` is the connection under ws.
    const raw = (this.socket as unknown as { _socket?: Duplex })._socket;
    if (!raw || this.socket.extensions !== '') {
      this.socket.send(text);
      return;
    }
    // The request being served counts as queued until its reply is out.
    if (!this.#corked && this.#queued > 1) {
      raw.cork();
      this.#corked = raw;
      this.#uncorking = setImmediate(() => this.#uncork());
    }
    raw.write(textFrame(text));
  }

  /** Sends the replies held back, at once. */
  #uncork(): void {
    const raw = this.#corked;
    if (!raw) return;
    if (this.#uncorking) clearImmediate(this.#uncorking);
    this.#corked = null;
    this.#uncorking = null;
    raw.uncork();
  }

  #startLoginDeadline(): void {
    this.#clearLoginDeadline();
    if (this.#closed) return;
    const ms = this.#settings.loginDeadlineMs;
    this.#loginTimer = setTimeout(() => {
      this.socket.close(1008, `no login within ${ms / 1000} s`);
    }, ms);
  }

  #clearLoginDeadline(): void {
    if (this.#loginTimer) clearTimeout(this.#loginTimer);
    this.#loginTimer = null;
  }

  #idle(): void {
    if (this.#subscribed) {
      this.#idleTimer.refresh();
      return;
    }
    const seconds = this.#settings.idleTimeoutMs / 1000;
    this.socket.close(1000, `idle for ${seconds} s`);
  }

  #onClose(): void {
    this.#closed = true;
    this.#clearLoginDeadline();
    clearTimeout(this.#idleTimer);
    this.#services.hub.unsubscribe(this.caller.subscriber!);
    this.#services.debug?.unsubscribe(this.caller.subscriber!);
  }
}

/**
 * The envelope of a request. A well-formed one is taken as it is: zod
 * would cost as much as the rest of a small request. Anything else goes
 * to the schema, whose error names the field that is wrong.
 */
function envelopeOf(value: unknown): Envelope {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { namespace, name, id, args } = value as Record<string, unknown>;
    if (typeof namespace === 'string' && typeof name === 'string' &&
        (id === undefined || typeof id === 'string' ||
          typeof id === 'number')) {
      return { namespace, name, id, args };
    }
  }
  return parse(envelopeSchema, value, 'message');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RpcError(
      'bad_json',
      `the message is not valid JSON: ${(error as Error).message}`
    );
  }
}
