/**
 * Memory of an idle server: started, one password login and one `list`
 * served, client gone. The baseline is the bare `ws` echo server after
 * serving one connection: Node.js and a WebSocket server, nothing else.
 *
 * Two more readings show where the memory goes: before any login, and
 * after four more password logins at once (each may run on another
 * thread of the libuv pool).
 */
import { setTimeout as delay } from 'node:timers/promises';

import { Client } from '../../lib/client/client.js';
import { EchoServer } from '../harness/echo.js';
import {
  figure,
  using,
  type Scenario,
  type ScenarioReport
} from '../harness/scenario.js';
import { memoryMapOf } from '../harness/processes.js';
import { BenchServer } from '../harness/server.js';
import { mb, median } from '../harness/stats.js';

/** Wait after the last request before reading memory, ms. */
const SETTLE_MS = 1000;

/** Readings taken, 20 ms apart; their median is reported. */
const READINGS = 5;

export const idle: Scenario = {
  id: 'idle',
  title: 'resident memory of an idle server',
  run: (context) => using(async (track) => {
    const settle = context.quick ? 200 : SETTLE_MS;
    const server = track(await BenchServer.start({
      name: 'idle',
      profileDir: context.profileDir,
      heapDir: context.heapDir
    }));
    await delay(settle);
    const beforeLogin = await readings(() => server.memory().rss);

    const client = await server.connect();
    await client.dispatcher({ action: 'list' });
    await client.close();
    const echo = track(await EchoServer.start('echo'));
    const echoClient = await echo.connect();
    await echoClient.dispatcher({ action: 'list' });
    await echoClient.close();

    await delay(settle);
    const serverRss = await readings(() => server.memory().rss);
    const echoRss = await readings(() => echo.memory().rss);
    const serverMap = memoryMapOf(server.pid);
    const echoMap = memoryMapOf(echo.pid);
    if (context.heapDir) await server.heapSnapshot();

    await Promise.all(Array.from({ length: 4 }, () => login(server)));
    await delay(settle);
    const afterLogins = await readings(() => server.memory().rss);
    const afterLoginsMap = memoryMapOf(server.pid);

    const quick = context.quick;
    return {
      figures: [
        figure({
          measure: 'idle server RSS (1 login served)',
          value: mb(serverRss),
          unit: 'MB',
          baseline: mb(echoRss),
          baselineLabel: 'bare ws echo server, idle',
          target: { on: 'value', op: '<', limit: 80 }
        }, quick),
        figure({
          measure: 'idle server RSS before any login',
          value: mb(beforeLogin),
          unit: 'MB',
          baseline: mb(echoRss),
          baselineLabel: 'bare ws echo server, idle'
        }, quick),
        figure({
          measure: 'idle server RSS after 4 more logins',
          value: mb(afterLogins),
          unit: 'MB',
          baseline: mb(echoRss),
          baselineLabel: 'bare ws echo server, idle'
        }, quick)
      ],
      details: {
        beforeLogin,
        serverRss,
        echoRss,
        afterLogins,
        // Where it is: the program text, anonymous memory, add-ons...
        serverMap,
        echoMap,
        afterLoginsMap
      }
    } satisfies ScenarioReport;
  })
};

/** One password login on a connection of its own, then closed. */
async function login(server: BenchServer): Promise<void> {
  const client = await Client.connect(server.url, {
    user: 'admin',
    password: server.password
  });
  await client.close();
}

async function readings(read: () => number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < READINGS; i++) {
    values.push(read());
    await delay(20);
  }
  return median(values);
}
