/**
 * The HTTP or HTTPS server under each transport. It counts connections
 * against the shared limits as they open, so that an address over its
 * limit gets a clear 429 on its first request, and it bounds how long a
 * client may take to send a request.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

import type { ConnectionLimits } from '../security/limits.js';
import type { TlsFiles } from '../security/tls.js';
import type { RpcError } from './errors.js';

export interface ListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Certificate and key; null serves plain HTTP. */
  tls: TlsFiles | null;
  /** Longest a request (headers and body) may take to arrive, ms. */
  requestTimeoutMs: number;
  /** Shared with the other transport. */
  connections: ConnectionLimits;
}

/** A listening server that knows which of its sockets are over limit. */
export interface Listener {
  server: Server;
  /** Why this connection is refused, or undefined when it is admitted. */
  refusal(socket: Socket): RpcError | undefined;
}

/** Creates the server; call `listen` to bind it. */
export function createListener(options: ListenerOptions): Listener {
  const timeouts = {
    requestTimeout: options.requestTimeoutMs,
    headersTimeout: options.requestTimeoutMs
  };
  const server: Server = options.tls
    ? createHttpsServer({
      ...timeouts,
      ...options.tls,
      handshakeTimeout: options.requestTimeoutMs
    })
    : createHttpServer(timeouts);
  // Past the total, Node drops new sockets unanswered; below it, an
  // address over its own limit is told so on its first request.
  server.maxConnections = options.connections.options.total;
  const refused = new WeakMap<Socket, RpcError>();
  const event = options.tls ? 'secureConnection' : 'connection';
  server.on(event, (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    try {
      socket.once('close', options.connections.admit(address));
    } catch (error) {
      refused.set(socket, error as RpcError);
    }
  });
  return { server, refusal: (socket) => refused.get(socket) };
}

/** Binds the server; resolves with the port. */
export function listen(
  server: Server,
  host: string,
  port: number
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** The client address of a request, for counting and logs. */
export function remoteAddress(request: IncomingMessage): string {
  return request.socket.remoteAddress ?? 'unknown';
}
