/**
 * The WebSocket transport. Each text message is one request envelope
 * `{namespace, name, id, args}`; the reply carries the same namespace and
 * id, with `name` set to `response` or `error`.
 *
 * Before a connection is upgraded, it must pass the checks a browser
 * attack would fail (`Origin`, `Host`), its address must not be locked
 * out, and the connection limits must have room; a refused upgrade gets
 * an HTTP error with the usual error body. Each connection is then a
 * `WsConnection`. Every `heartbeatMs` the server pings each connection
 * and terminates those that did not answer the previous ping.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

import { WebSocketServer, type WebSocket } from 'ws';

import type { TlsFiles } from '../security/tls.js';
import { RpcError } from './errors.js';
import type { Services } from './handlers.js';
import { createListener, listen, remoteAddress } from './listener.js';
import { refuseLockedOut } from './login.js';
import { WsConnection, type ConnectionSettings } from './ws-connection.js';

/** Where and how to listen; the settings are `ServerConfig`'s. */
export interface WsOptions extends ConnectionSettings {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Certificate and key for wss://; null serves ws://. */
  tls: TlsFiles | null;
  /** Whether messages may be compressed (permessage-deflate). */
  wsCompression: boolean;
  /** Longest the upgrade request may take to arrive, ms. */
  requestTimeoutMs: number;
}

/** Messages this small are not worth compressing, bytes. */
const COMPRESS_THRESHOLD = 1024;

export class WsTransport {
  #server: Server | null = null;
  #sockets: WebSocketServer | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  /** Connections that answered since the last ping. */
  #alive = new WeakSet<WebSocket>();
  #addresses = new WeakMap<WebSocket, string>();
  #services: Services;

  constructor(services: Services) {
    this.#services = services;
  }

  /** Starts listening; resolves with the bound port. */
  async listen(options: WsOptions): Promise<number> {
    const { security } = this.#services;
    const listener = createListener({
      host: options.host,
      port: options.port,
      tls: options.tls,
      requestTimeoutMs: options.requestTimeoutMs,
      connections: security.connections
    });
    const sockets = new WebSocketServer({
      noServer: true,
      // Checked against the inflated size, so a compressed message
      // cannot grow past it either.
      maxPayload: options.maxMessageBytes,
      perMessageDeflate: options.wsCompression
        ? { threshold: COMPRESS_THRESHOLD }
        : false
    });
    const { server } = listener;
    server.on('request', (_, response) => {
      response.writeHead(426, { 'Content-Type': 'text/plain' });
      response.end('this port speaks WebSocket only\n');
    });
    server.on('upgrade', (request, socket, head) => {
      try {
        const refusal = listener.refusal(request.socket);
        if (refusal) throw refusal;
        security.origins.check(request.headers);
        refuseLockedOut(security.throttle, remoteAddress(request));
      } catch (error) {
        return refuse(socket, remoteAddress(request), error, this.#services);
      }
      sockets.handleUpgrade(request, socket, head, (ws) =>
        this.#accept(ws, request, options)
      );
    });
    server.on('error', (error) =>
      this.#services.log.error({ err: error }, 'websocket server error')
    );
    this.#server = server;
    this.#sockets = sockets;
    const port = await listen(server, options.host, options.port);
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs);
    return port;
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.#sockets?.clients.size ?? 0;
  }

  /** Closes every connection and stops listening. */
  close(): Promise<void> {
    const server = this.#server;
    const sockets = this.#sockets;
    this.#server = null;
    this.#sockets = null;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (!server || !sockets) return Promise.resolve();
    for (const client of sockets.clients) client.close(1001, 'server stopping');
    sockets.close();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  #accept(
    socket: WebSocket,
    request: IncomingMessage,
    options: WsOptions
  ): void {
    const address = remoteAddress(request);
    const services = this.#services;
    new WsConnection(socket, address, services, options);
    this.#addresses.set(socket, address);
    this.#alive.add(socket);
    socket.on('pong', () => this.#alive.add(socket));
    socket.on('message', () => this.#alive.add(socket));
    socket.on('error', (error) =>
      services.log.warn({ address, err: error.message }, 'websocket error')
    );
  }

  /** Pings every connection; ends those that missed the last ping. */
  #beat(): void {
    for (const socket of this.#sockets?.clients ?? []) {
      if (!this.#alive.has(socket)) {
        this.#services.log.info(
          { address: this.#addresses.get(socket) },
          'dropped a connection that stopped answering pings'
        );
        socket.terminate();
        continue;
      }
      this.#alive.delete(socket);
      socket.ping();
    }
  }
}

/** Answers a refused upgrade with an HTTP error and hangs up. */
function refuse(
  socket: Duplex,
  address: string,
  error: unknown,
  services: Services
): void {
  const rpc = error instanceof RpcError
    ? error
    : new RpcError('internal', 'the server failed; see its log');
  if (!(error instanceof RpcError)) {
    services.log.error({ err: error }, 'websocket upgrade failed');
  }
  const args = rpc.toArgs();
  const body = JSON.stringify({ args });
  socket.on('error', () => {});
  socket.end(
    `HTTP/1.1 ${args.code} ${args.message}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body
  );
  services.log.info(
    { transport: 'ws', address, code: args.code, error: args.error },
    'upgrade refused'
  );
}
