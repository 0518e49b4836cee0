/**
 * Checks against attacks through a browser. A page the operator opens
 * can make the browser connect to the server: to 127.0.0.1 directly, or
 * through a name the attacker points at it (DNS rebinding). The browser
 * then sends an `Origin` header naming the page, and a `Host` header
 * naming whatever the page asked for. Requests whose `Origin` is not on
 * the allow-list, or whose `Host` is not one of the server's own names,
 * are refused before anything else is looked at.
 *
 * Clients that are not browsers (the command line, curl, scripts) send
 * no `Origin` and are not affected.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';

import { RpcError } from '../rpc/errors.js';

export interface OriginOptions {
  /** Address the server listens on. */
  host: string;
  /** Origins whose pages may call the server, e.g. `https://ops.lan`. */
  allowedOrigins: readonly string[];
  /** More names the server answers to, e.g. `dispatcher.example.org`. */
  allowedHosts: readonly string[];
}

/** `Sec-Fetch-Site` values a browser sends for the server's own pages. */
const SAME_SITE = new Set(['same-origin', 'none']);

export class OriginPolicy {
  readonly origins: ReadonlySet<string>;
  readonly hosts: ReadonlySet<string>;

  constructor(options: OriginOptions) {
    this.origins = new Set(options.allowedOrigins.map(normaliseOrigin));
    this.hosts = new Set(
      [
        ...ownNames(options.host),
        ...options.allowedHosts
      ].map((name) => name.toLowerCase())
    );
  }

  #ownPorts = new Set<string>();

  /**
   * Lets pages the server itself serves on `port` (the debugging page on
   * the REST port) call it, under any of the server's own names.
   */
  allowOwnPort(port: number, tls: boolean): void {
    this.#ownPorts.add(`${tls ? 'https:' : 'http:'}${port}`);
  }

  /** Whether browser pages of this origin may call the server. */
  allows(origin: string): boolean {
    if (this.origins.has(normaliseOrigin(origin))) return true;
    return this.#ownOrigin(origin);
  }

  #ownOrigin(origin: string): boolean {
    if (this.#ownPorts.size === 0) return false;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return this.#ownPorts.has(`${url.protocol}${port}`) &&
      this.hosts.has(hostName(url.host));
  }

  /**
   * Throws a 403 for a request from a foreign page or to a foreign host
   * name; returns the allowed origin, if the request came from a page.
   */
  check(headers: IncomingHttpHeaders): string | null {
    const host = headers.host;
    if (host !== undefined && !this.hosts.has(hostName(host))) {
      throw new RpcError(
        'foreign_host',
        `this server does not answer to the name '${host.slice(0, 100)}'`
      );
    }
    const origin = headers.origin;
    if (origin !== undefined) {
      if (this.allows(origin)) return origin;
      throw new RpcError(
        'foreign_origin',
        `pages from '${origin.slice(0, 100)}' may not call this server`
      );
    }
    // A browser that left out Origin still says where the request came
    // from; a cross-site one is refused all the same.
    const site = headers['sec-fetch-site'];
    if (typeof site === 'string' && !SAME_SITE.has(site)) {
      throw new RpcError(
        'foreign_origin',
        `a ${site} browser request without an allowed Origin`
      );
    }
    return null;
  }
}

/** Lower-cases an origin and drops a trailing slash and default port. */
function normaliseOrigin(origin: string): string {
  try {
    const url = new URL(origin);
    if (url.origin !== 'null') return url.origin.toLowerCase();
  } catch {
    // Not a URL: kept as given, so it can only match itself.
  }
  return origin.trim().toLowerCase();
}

/** The name part of a Host header: no port, no IPv6 brackets. */
function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\](:\d+)?$/.exec(value);
  if (bracketed) return bracketed[1];
  return value.replace(/:\d+$/, '');
}

/**
 * Names that reach this server: loopback names, the machine's hostname,
 * the listen address and, when that is a wildcard, every local address.
 */
function ownNames(host: string): string[] {
  const names = ['localhost', '127.0.0.1', '::1', hostname()];
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === '0.0.0.0' || bare === '::' || bare === '') {
    for (const list of Object.values(networkInterfaces())) {
      for (const entry of list ?? []) names.push(entry.address);
    }
  } else {
    names.push(bare);
  }
  return names;
}
