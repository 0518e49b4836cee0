/**
 * The WebSocket transport. Each text message is one request envelope
 * `{namespace, name, id, args}`; the reply carries the same namespace and
 * id, with `name` set to `response` or `error`.
 *
 * Requests on one connection are served strictly in order, so a client
 * may send its login and its request back to back without waiting.
 */
import type { AddressInfo } from 'node:net';

import { WebSocketServer, type WebSocket } from 'ws';

import { RpcError } from './errors.js';
import type { Caller, Services } from './handlers.js';
import { envelopeSchema, parse } from './schemas.js';
import { serveRequest } from './serve.js';

export interface WsOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest message accepted, bytes. Default 16 MiB. */
  maxPayload?: number;
}

/** Largest message accepted by default: room for big `run` batches. */
const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

export class WsTransport {
  #server: WebSocketServer | null = null;
  #services: Services;

  constructor(services: Services) {
    this.#services = services;
  }

  /** Starts listening; resolves with the bound port. */
  listen(options: WsOptions): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = new WebSocketServer({
        host: options.host,
        port: options.port,
        maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD
      });
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        server.on('error', (error) =>
          this.#services.log.error({ err: error }, 'websocket server error')
        );
        resolve((server.address() as AddressInfo).port);
      });
      server.on('connection', (socket, request) =>
        this.#accept(socket, request.socket.remoteAddress ?? 'unknown')
      );
      this.#server = server;
    });
  }

  /** Closes every connection and stops listening. */
  close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return Promise.resolve();
    for (const client of server.clients) client.close(1001, 'server stopping');
    return new Promise((resolve) => server.close(() => resolve()));
  }

  #accept(socket: WebSocket, address: string): void {
    const services = this.#services;
    const subscriber = {
      send: (message: string) => {
        if (socket.readyState === socket.OPEN) socket.send(message);
      }
    };
    const caller: Caller = {
      transport: 'ws',
      address,
      session: null,
      token: null,
      subscriber,
      login(session, token) {
        caller.session = session;
        caller.token = token;
      }
    };
    let chain = Promise.resolve();
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      chain = chain.then(() => this.#serve(socket, caller, text));
    });
    socket.on('close', () => services.hub.unsubscribe(subscriber));
    socket.on('error', (error) =>
      services.log.warn({ address, err: error.message }, 'websocket error')
    );
  }

  async #serve(
    socket: WebSocket,
    caller: Caller,
    text: string | null
  ): Promise<void> {
    // A token used on a connection expires like any other; a connection
    // does not stay logged in past its token.
    if (caller.token && !this.#services.tokens.resolve(caller.token)) {
      caller.login!(null, null);
    }
    let namespace = 'rpc';
    let id: string | number = '';
    let reply: unknown;
    try {
      if (text === null) {
        throw new RpcError('bad_json', 'messages must be JSON text frames');
      }
      const envelope = parse(envelopeSchema, parseJson(text), 'message');
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
      reply = outcome.ok
        ? { namespace, name: 'response', id, args: outcome.args }
        : { namespace, name: 'error', id, args: outcome.error };
    } catch (error) {
      const args =
        error instanceof RpcError
          ? error.toArgs()
          : new RpcError('internal', 'the server failed; see its log').toArgs();
      reply = { namespace, name: 'error', id, args };
    }
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(reply));
  }
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
