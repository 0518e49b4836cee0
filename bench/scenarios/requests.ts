/**
 * Small requests per second: `list` on an idle server, over one
 * connection with many requests in flight, and over 50 connections with
 * one each. The baseline is a bare `ws` server echoing every message,
 * driven by the same client code with the same messages.
 */
import type { Client } from '../../lib/client/client.js';
import { EchoServer } from '../harness/echo.js';
import {
  figure,
  using,
  type Scenario,
  type ScenarioReport
} from '../harness/scenario.js';
import { BenchServer } from '../harness/server.js';
import { mean } from '../harness/stats.js';

/** Requests in flight on the single pipelined connection. */
const WINDOW = 64;

/** Connections in the many-connections case, one request in flight each. */
const CONNECTIONS = 50;

const LIST = { action: 'list' };

interface Mode {
  label: string;
  connections: number;
  window: number;
}

const modes: Mode[] = [
  { label: `1 connection, ${WINDOW} in flight`, connections: 1,
    window: WINDOW },
  { label: `${CONNECTIONS} connections, 1 in flight each`,
    connections: CONNECTIONS, window: 1 }
];

export const requests: Scenario = {
  id: 'requests',
  title: 'small list requests per second',
  run: (context) => using(async (track) => {
    const total = context.quick ? 300 : 20_000;
    const warmUp = context.quick ? 50 : 2000;
    const server = track(await BenchServer.start({
      name: 'requests',
      profileDir: context.profileDir
    }));
    const echo = track(await EchoServer.start('echo'));

    const figures = [];
    const details: Record<string, unknown> = {};
    for (const mode of modes) {
      const serverClients = await connectMany(mode.connections,
        () => server.connect());
      const echoClients = await connectMany(mode.connections,
        () => echo.connect());
      await load(serverClients, mode.window, warmUp);
      await load(echoClients, mode.window, warmUp);

      // Echo runs before and after, to even out drift.
      const echoBefore = await load(echoClients, mode.window, total);
      const measured = await load(serverClients, mode.window, total);
      const echoAfter = await load(echoClients, mode.window, total);
      context.note(`${mode.label}: ${measured.toFixed(0)} req/s`);
      for (const client of [...serverClients, ...echoClients]) {
        await client.close();
      }

      figures.push(figure({
        measure: mode.label,
        value: measured,
        unit: 'req/s',
        baseline: mean([echoBefore, echoAfter]),
        baselineLabel: 'bare ws echo server',
        target: { on: 'ratio', op: '>=', limit: 0.5 }
      }, context.quick));
      details[mode.label] = { total, measured, echoBefore, echoAfter };
    }
    return { figures, details } satisfies ScenarioReport;
  })
};

async function connectMany(
  count: number,
  connect: () => Promise<Client>
): Promise<Client[]> {
  const clients: Client[] = [];
  for (let i = 0; i < count; i++) clients.push(await connect());
  return clients;
}

/**
 * Sends `total` list requests spread over `clients`, keeping `window`
 * in flight on each; resolves with requests per second.
 */
async function load(
  clients: Client[],
  window: number,
  total: number
): Promise<number> {
  let issued = 0;
  const lane = async (client: Client) => {
    while (issued < total) {
      issued++;
      await client.dispatcher(LIST);
    }
  };
  const start = performance.now();
  await Promise.all(clients.flatMap((client) =>
    Array.from({ length: window }, () => lane(client))));
  return total / ((performance.now() - start) / 1000);
}
