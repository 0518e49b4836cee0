/**
 * The REST transport: `PUT /<namespace>/<name>` (GET and POST work too)
 * with the request's `args` as the JSON body. A body that itself has an
 * `args` key is unwrapped, as the original server did. The reply body is
 * `{"args": ...}` with a matching HTTP status.
 *
 * Credentials come with each request: HTTP Basic (checked against the
 * users file) or `Authorization: Bearer <token>` from `rpc/auth`.
 *
 * Before anything else, a request must pass the connection limits and
 * the `Origin` and `Host` checks, and its address must not be locked
 * out. Pages of an allowed origin get CORS headers, but never
 * `Access-Control-Allow-Credentials`: a browser's remembered Basic
 * credentials are not sent for them, so a page must present its token
 * itself.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import { tokenKey, type Session } from '../auth/tokens.js';
import { debugPage, isPagePath } from '../debug/page-route.js';
import type { TlsFiles } from '../security/tls.js';
import { RpcError, type ErrorArgs } from './errors.js';
import type { Caller, Services } from './handlers.js';
import { createListener, listen, remoteAddress } from './listener.js';
import { loginFailed, loginSucceeded, refuseLockedOut } from './login.js';
import { serveRequest } from './serve.js';

export interface RestOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Certificate and key for https://; null serves http://. */
  tls: TlsFiles | null;
  /** Largest body accepted, bytes. */
  maxBodyBytes: number;
  /** Longest a request (headers and body) may take to arrive, ms. */
  requestTimeoutMs: number;
}

const METHODS = new Set(['GET', 'PUT', 'POST']);

/**
 * What `GET /metrics` serves (Prometheus text); without it that path is
 * not found. See docs/metrics.md.
 */
export interface MetricsRoute {
  /** Whether a `read` login (Basic or Bearer) is needed. */
  needsLogin: boolean;
  /** The exposition text. */
  render(): Promise<string>;
  /** Its content type. */
  contentType: string;
}

/** How long a browser may cache a CORS preflight answer, seconds. */
const PREFLIGHT_MAX_AGE = 600;

export class RestTransport {
  #server: Server | null = null;
  #services: Services;
  #metrics: MetricsRoute | undefined;

  #wsPort: () => number | null;

  /**
   * `wsPort` tells the debugging page (`/debug/`) where the WebSocket
   * listens; without it, that page is not served.
   */
  constructor(
    services: Services,
    metrics?: MetricsRoute,
    wsPort: () => number | null = () => null
  ) {
    this.#services = services;
    this.#metrics = metrics;
    this.#wsPort = wsPort;
  }

  /** Starts listening; resolves with the bound port. */
  listen(options: RestOptions): Promise<number> {
    const listener = createListener({
      host: options.host,
      port: options.port,
      tls: options.tls,
      requestTimeoutMs: options.requestTimeoutMs,
      connections: this.#services.security.connections
    });
    const { server } = listener;
    server.on('request', (request, response) => {
      const refusal = listener.refusal(request.socket);
      const served = refusal
        ? Promise.resolve(hangUp(response, refusal.toArgs()))
        : this.#serve(request, response, options);
      served.catch((error) => {
        this.#services.log.error({ err: error }, 'rest request failed');
        if (!response.headersSent) {
          send(response, 500, {
            args: new RpcError('internal', 'see the server log').toArgs()
          });
        }
      });
    });
    this.#server = server;
    return listen(server, options.host, options.port);
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
    response: ServerResponse,
    options: RestOptions
  ): Promise<void> {
    const { security } = this.#services;
    const address = remoteAddress(request);
    let origin: string | null;
    try {
      origin = security.origins.check(request.headers);
      refuseLockedOut(security.throttle, address);
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      return hangUp(response, error.toArgs());
    }
    if (origin !== null) allowOrigin(response, origin);
    if (request.method === 'OPTIONS' && origin !== null) {
      return preflight(response);
    }
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics' && this.#metrics) {
      return this.#serveMetrics(request, response, this.#metrics);
    }
    const wsPort = this.#wsPort();
    if (wsPort !== null && isPagePath(path)) {
      return this.#serveDebug(request, response, path, wsPort);
    }
    const parts = path.split('/').filter(Boolean);
    if (!METHODS.has(request.method ?? '')) {
      return fail(response, new RpcError(
        'method_not_allowed',
        `use PUT (or GET, POST), not ${request.method}`
      ).toArgs());
    }
    const names = parts.length === 2 ? decodeParts(parts) : null;
    if (!names) {
      return fail(response, new RpcError(
        'not_found',
        `no such path '${path.slice(0, 200)}': use /<namespace>/<name>, ` +
          'for example PUT /rpc/dispatcher'
      ).toArgs());
    }
    const [namespace, name] = names;
    let args: unknown;
    try {
      args = await readArgs(request, options.maxBodyBytes);
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      // The rest of an oversized body is not read; close the connection.
      return hangUp(response, error.toArgs());
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
      if (error.error === 'locked_out') return hangUp(response, error.toArgs());
      response.setHeader('WWW-Authenticate', 'Basic realm="dispatcher"');
      return fail(response, error.toArgs());
    }
    const outcome = await serveRequest(
      namespace, name, args, caller, this.#services
    );
    if ('silent' in outcome) return send(response, 200, { args: {} });
    if (!outcome.ok) {
      if (outcome.error.error === 'locked_out') {
        return hangUp(response, outcome.error);
      }
      return fail(response, outcome.error);
    }
    send(response, 200, { args: outcome.args });
  }

  /** `GET /metrics`, after the same origin and lockout checks. */
  async #serveMetrics(
    request: IncomingMessage,
    response: ServerResponse,
    metrics: MetricsRoute
  ): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return fail(response, new RpcError(
        'method_not_allowed', `use GET for /metrics, not ${request.method}`
      ).toArgs());
    }
    const caller: Caller = {
      transport: 'rest',
      address: remoteAddress(request),
      session: null,
      token: null
    };
    try {
      await this.#authenticate(request, caller);
      if (metrics.needsLogin && !caller.session) {
        throw new RpcError('unauthorized',
          'log in to read metrics: HTTP Basic or Bearer authorization');
      }
    } catch (error) {
      if (!(error instanceof RpcError)) throw error;
      if (error.error === 'locked_out') return hangUp(response, error.toArgs());
      response.setHeader('WWW-Authenticate', 'Basic realm="dispatcher"');
      return fail(response, error.toArgs());
    }
    const text = await metrics.render();
    response.writeHead(200, {
      'Content-Type': metrics.contentType,
      'Content-Length': Buffer.byteLength(text)
    });
    response.end(request.method === 'HEAD' ? undefined : text);
  }

  /** `GET /debug/...`: the debugging page, after the same checks. */
  async #serveDebug(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    wsPort: number
  ): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return fail(response, new RpcError(
        'method_not_allowed', `use GET for ${path}, not ${request.method}`
      ).toArgs());
    }
    const page = await debugPage(path, wsPort);
    if (!page) {
      return fail(response, new RpcError(
        'not_found', `no such file '${path.slice(0, 200)}' of the debug page`
      ).toArgs());
    }
    response.writeHead(page.status, page.headers);
    response.end(request.method === 'HEAD' ? undefined : page.body);
  }

  /** Fills in the caller's session from the Authorization header. */
  async #authenticate(request: IncomingMessage, caller: Caller) {
    const header = request.headers.authorization;
    if (!header) return;
    const { log, monitor, security, tokens, users } = this.#services;
    const { throttle } = security;
    const [scheme, value = ''] = header.split(' ', 2);
    let session: Session | null = null;
    if (/^bearer$/i.test(scheme)) {
      session = tokens.resolve(value);
      if (!session) {
        loginFailed(log, throttle,
          { address: caller.address, method: 'bearer', user: null },
          'the token is unknown or expired', monitor);
      }
      caller.token = tokenKey(value);
    } else if (/^basic$/i.test(scheme)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      const attempt = { address: caller.address, method: 'basic' as const,
        user };
      const role = colon < 0
        ? null
        : await users.verify(user, decoded.slice(colon + 1));
      if (!role) {
        loginFailed(log, throttle, attempt, 'wrong username or password',
          monitor);
      }
      loginSucceeded(log, attempt, monitor);
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

/** `[namespace, name]` from the path, or null if not valid URI text. */
function decodeParts(parts: string[]): [string, string] | null {
  try {
    return [decodeURIComponent(parts[0]), decodeURIComponent(parts[1])];
  } catch {
    return null;
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
  if (typeof body === 'object' && body !== null &&
      Object.hasOwn(body, 'args')) {
    return (body as { args: unknown }).args;
  }
  return body;
}

/** Lets pages of an allowed origin read the reply. */
function allowOrigin(response: ServerResponse, origin: string): void {
  response.setHeader('Access-Control-Allow-Origin', origin);
  response.setHeader('Vary', 'Origin');
}

/** Answers a CORS preflight from an allowed origin. */
function preflight(response: ServerResponse): void {
  response.writeHead(204, {
    'Access-Control-Allow-Methods': [...METHODS].join(', '),
    'Access-Control-Allow-Headers': 'Authorization, Content-Type',
    'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE)
  });
  response.end();
}

/** Sends an error and closes the connection after it. */
function hangUp(response: ServerResponse, error: ErrorArgs): void {
  response.setHeader('Connection', 'close');
  fail(response, error);
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
