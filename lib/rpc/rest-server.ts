/**
 * The REST transport: `PUT /<namespace>/<name>` (GET and POST work too)
 * with the request's `args` as the JSON body. A body that itself has an
 * `args` key is unwrapped, as the original server did. The reply body is
 * `{"args": ...}` with a matching HTTP status.
 *
 * Credentials come with each request: HTTP Basic (checked against the
 * users file) or `Authorization: Bearer <token>` from `rpc/auth`.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse
} from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Session } from '../auth/tokens.js';
import { RpcError, type ErrorArgs } from './errors.js';
import type { Caller, Services } from './handlers.js';
import { serveRequest } from './serve.js';

export interface RestOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest body accepted, bytes. Default 16 MiB. */
  maxBody?: number;
}

const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
const METHODS = new Set(['GET', 'PUT', 'POST']);

export class RestTransport {
  #server: Server | null = null;
  #services: Services;
  #maxBody = DEFAULT_MAX_BODY;

  constructor(services: Services) {
    this.#services = services;
  }

  /** Starts listening; resolves with the bound port. */
  listen(options: RestOptions): Promise<number> {
    this.#maxBody = options.maxBody ?? DEFAULT_MAX_BODY;
    const server = createServer((request, response) => {
      this.#serve(request, response).catch((error) => {
        this.#services.log.error({ err: error }, 'rest request failed');
        if (!response.headersSent) {
          send(response, 500, {
            args: new RpcError('internal', 'see the server log').toArgs()
          });
        }
      });
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops listening and closes idle keep-alive connections. */
  close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async #serve(
    request: IncomingMessage,
    response: ServerResponse
  ): Promise<void> {
    const address = request.socket.remoteAddress ?? 'unknown';
    const path = (request.url ?? '/').split('?')[0];
    const parts = path.split('/').filter(Boolean);
    if (!METHODS.has(request.method ?? '')) {
      return fail(response, new RpcError(
        'method_not_allowed',
        `use PUT (or GET, POST), not ${request.method}`
      ).toArgs());
    }
    if (parts.length !== 2) {
      return fail(response, new RpcError(
        'not_found',
        `no such path '${path.slice(0, 200)}': use /<namespace>/<name>, ` +
          'for example PUT /rpc/dispatcher'
      ).toArgs());
    }
    const [namespace, name] = parts.map(decodeURIComponent);
    let args: unknown;
    try {
      args = await readArgs(request, this.#maxBody);
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      // The rest of an oversized body is not read; close the connection.
      response.setHeader('Connection', 'close');
      return fail(response, error.toArgs());
    }
    const caller: Caller = {
      transport: 'rest',
      address,
      session: null,
      token: null
    };
    try {
      await this.#authenticate(request, caller);
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      response.setHeader('WWW-Authenticate', 'Basic realm="dispatcher"');
      return fail(response, error.toArgs());
    }
    const outcome = await serveRequest(
      namespace, name, args, caller, this.#services
    );
    if ('silent' in outcome) return send(response, 200, { args: {} });
    if (!outcome.ok) return fail(response, outcome.error);
    send(response, 200, { args: outcome.args });
  }

  /** Fills in the caller's session from the Authorization header. */
  async #authenticate(request: IncomingMessage, caller: Caller) {
    const header = request.headers.authorization;
    if (!header) return;
    const [scheme, value = ''] = header.split(' ', 2);
    let session: Session | null = null;
    if (/^bearer$/i.test(scheme)) {
      session = this.#services.tokens.resolve(value.trim());
      caller.token = value.trim();
      if (!session) {
        throw new RpcError('unauthorized', 'the token is unknown or expired');
      }
    } else if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = decoded.slice(0, colon);
      const role = colon < 0
        ? null
        : await this.#services.users.verify(user, decoded.slice(colon + 1));
      if (!role) {
        throw new RpcError('unauthorized', 'wrong username or password');
      }
      session = { user, role };
    } else {
      throw new RpcError(
        'unauthorized',
        'use HTTP Basic or Bearer authorization'
      );
    }
    caller.session = session;
  }
}

async function readArgs(
  request: IncomingMessage,
  maxBody: number
): Promise<unknown> {
  const tooLarge = new RpcError(
    'body_too_large',
    `the body is larger than ${maxBody} bytes`
  );
  if (Number(request.headers['content-length'] ?? 0) > maxBody) {
    throw tooLarge;
  }
  // Read by hand rather than with `for await`: leaving that loop early
  // destroys the socket before the 413 reply could be sent.
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const received: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        request.removeAllListeners('data');
        request.pause();
        reject(tooLarge);
        return;
      }
      received.push(chunk);
    });
    request.on('end', () => resolve(received));
    request.on('error', reject);
  });
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new RpcError(
      'bad_json',
      `the body is not valid JSON: ${(error as Error).message}`
    );
  }
  if (typeof body === 'object' && body !== null && Object.hasOwn(body, 'args')) {
    return (body as { args: unknown }).args;
  }
  return body;
}

function fail(response: ServerResponse, error: ErrorArgs): void {
  send(response, error.code, { args: error });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text)
  });
  response.end(text);
}
