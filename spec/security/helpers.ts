/**
 * Wire-level helpers for the security specs: WebSocket upgrades that may
 * be refused, close codes, raw HTTP requests with any headers, and a
 * certificate made at test time.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';

import WebSocket, { type ClientOptions } from 'ws';

/** A refused upgrade: the HTTP status and the parsed body. */
export interface Refusal {
  status: number;
  body: any;
}

/** Opens a WebSocket, or resolves with the HTTP reply that refused it. */
export function tryUpgrade(
  url: string,
  options: ClientOptions = {}
): Promise<WebSocket | Refusal> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options);
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk));
      response.on('end', () => {
        socket.terminate();
        resolve({
          status: response.statusCode ?? 0,
          body: text.startsWith('{') ? JSON.parse(text) : text
        });
      });
    });
    socket.once('error', reject);
  });
}

/** Resolves with the close code and reason once the socket closes. */
export function closeOf(
  socket: WebSocket
): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) {
      resolve({ code: -1, reason: 'already closed' });
      return;
    }
    socket.on('error', () => {});
    socket.once('close', (code, reason) =>
      resolve({ code, reason: String(reason) })
    );
  });
}

/** Sends a request on a raw socket and resolves with its reply. */
export function ask(
  socket: WebSocket,
  name: string,
  args: unknown = {},
  namespace = 'rpc'
): Promise<any> {
  const id = `r${Math.random()}`;
  return new Promise((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data));
      if (message.id !== id) return;
      socket.off('message', onMessage);
      socket.off('close', onClose);
      resolve(message);
    };
    const onClose = () => {
      socket.off('message', onMessage);
      reject(new Error(`closed before the reply to ${name}`));
    };
    socket.on('message', onMessage);
    socket.once('close', onClose);
    socket.send(JSON.stringify({ namespace, name, id, args }));
  });
}

/** An HTTP(S) request with exactly these headers; no fetch defaults. */
export function rawRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    ca?: Buffer;
  } = {}
): Promise<{ status: number; headers: Record<string, any>; body: any }> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(target, {
      method: options.method ?? 'PUT',
      headers: options.headers ?? {},
      ca: options.ca,
      agent: false
    }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk));
      response.on('end', () => resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        body: text.startsWith('{') ? JSON.parse(text) : text
      }));
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

/**
 * A self-signed certificate for `localhost` and 127.0.0.1, valid a day,
 * made with the openssl command line in `dir`.
 */
export function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** Whether the openssl command line is installed. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A WebSocket opened by hand over TCP, for sending frames no library
 * would: resolves once the server has answered 101, with every byte the
 * server sends after that gathered in `received`.
 */
export async function handRolledSocket(
  port: number
): Promise<{ socket: Socket; received: () => Buffer }> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let upgraded = false;
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      if (upgraded) {
        chunks.push(chunk);
        return;
      }
      const text = chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (!text.startsWith('HTTP/1.1 101')) {
        reject(new Error(`not upgraded: ${text.split('\r\n')[0]}`));
        return;
      }
      upgraded = true;
      chunks.push(chunk.subarray(end + 4));
      resolve();
    });
    socket.write(
      'GET / HTTP/1.1\r\n' +
        `Host: 127.0.0.1:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        'Sec-WebSocket-Version: 13\r\n\r\n'
    );
  });
  socket.on('error', () => {});
  return { socket, received: () => Buffer.concat(chunks) };
}

/** The status code of the first close frame in `data`, or null. */
export function closeCode(data: Buffer): number | null {
  let offset = 0;
  while (offset + 2 <= data.length) {
    const opcode = data[offset] & 0x0f;
    let length = data[offset + 1] & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      length = data.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(start));
      start += 8;
    }
    if (opcode === 0x8) return length >= 2 ? data.readUInt16BE(start) : 1005;
    offset = start + length;
  }
  return null;
}
