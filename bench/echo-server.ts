/**
 * The baseline server: a bare `ws` WebSocketServer, started as its own
 * process by the benchmarks (see harness/echo.ts), never imported.
 *
 *     node dist/bench/echo-server.js echo|replay
 *
 * It prints `{"port": N}` on one line once it listens, and stops on
 * SIGTERM.
 *
 * - `echo` sends every message back unchanged: the least any server can
 *   do per request, with the same client code on the other end.
 * - `replay` answers every request with one stored reply, serialised
 *   anew each time, as a server that had the answer ready would. The
 *   first message (`{"name": "store", "args": ...}`) stores the reply's
 *   args; afterwards each request `{"id": ...}` gets
 *   `{"namespace": "rpc", "name": "response", "id", "args"}`.
 */
import { WebSocketServer } from 'ws';

/**
 * Largest message taken, bytes: room for storing a `list` reply of
 * 100 000 jobs, about 25 MB.
 */
const MAX_PAYLOAD = 256 * 1024 * 1024;

const mode = process.argv[2] ?? 'echo';
if (mode !== 'echo' && mode !== 'replay') {
  console.error(`echo-server: unknown mode '${mode}' (echo or replay)`);
  process.exit(2);
}

const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: MAX_PAYLOAD
});
let stored: unknown = null;

server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => {
    if (mode === 'echo') {
      socket.send(data, { binary: isBinary });
      return;
    }
    const request = JSON.parse(data.toString());
    if (request.name === 'store') {
      stored = request.args;
      socket.send(JSON.stringify({ ...request, name: 'response', args: {} }));
      return;
    }
    socket.send(JSON.stringify({
      namespace: 'rpc',
      name: 'response',
      id: request.id,
      args: stored
    }));
  });
});

server.on('listening', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

process.on('SIGTERM', () => {
  for (const client of server.clients) client.terminate();
  server.close(() => process.exit(0));
});
