/**
 * `GET /debug/`: the debugging page's static files. They hold no data:
 * the page logs in over the WebSocket and gets everything it shows from
 * `debug/subscribe`. The files live in the source tree (`lib/debug/page/`),
 * not in dist/, and are read from there whether the server runs from
 * dist/ or from a fresh clone.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The files served, by name under `/debug/`, with their types. */
const FILES = new Map([
  ['', 'text/html; charset=utf-8'],
  ['app.js', 'text/javascript; charset=utf-8'],
  ['diagram.js', 'text/javascript; charset=utf-8'],
  ['style.css', 'text/css; charset=utf-8']
]);

/**
 * Scripts and styles only from this server; the WebSocket may go to any
 * port (the WS port is not the REST port).
 */
const POLICY = [
  "default-src 'self'",
  'connect-src \'self\' ws: wss:',
  "img-src 'self' data:",
  "frame-ancestors 'none'"
].join('; ');

/** One answer of the page route. */
export interface PageFile {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/** Where the page's files are: next to the source, or from dist/. */
export function pageDirectory(): string {
  const beside = fileURLToPath(new URL('page/', import.meta.url));
  if (existsSync(beside)) return beside;
  // dist/lib/debug/ → the package root → lib/debug/page/.
  return fileURLToPath(new URL('../../../lib/debug/page/', import.meta.url));
}

/**
 * Whether a path is one of the page's files; other `/debug/...` paths
 * are requests (`debug/subscribe`) like any other.
 */
export function isPagePath(path: string): boolean {
  if (path === '/debug') return true;
  if (!path.startsWith('/debug/')) return false;
  const name = path.slice('/debug/'.length);
  return name === 'config.json' || FILES.has(name);
}

/**
 * The answer for a path under `/debug` (`/debug`, `/debug/`,
 * `/debug/app.js`...), or null when the path is not the page's.
 * `wsPort` goes to `config.json` so the page knows where to connect.
 */
export async function debugPage(
  path: string,
  wsPort: number
): Promise<PageFile | null> {
  if (path === '/debug') {
    return { status: 308, headers: { Location: '/debug/' }, body: '' };
  }
  if (!path.startsWith('/debug/')) return null;
  const name = path.slice('/debug/'.length);
  if (name === 'config.json') {
    return file('application/json', JSON.stringify({ wsPort }));
  }
  const type = FILES.get(name);
  if (type === undefined) return null;
  const body = await readFile(pageDirectory() + (name || 'index.html'));
  return file(type, body);
}

function file(type: string, body: Buffer | string): PageFile {
  return {
    status: 200,
    headers: {
      'Content-Type': type,
      'Content-Length': String(Buffer.byteLength(body)),
      'Content-Security-Policy': POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache'
    },
    body
  };
}
