/**
 * `/metrics` on the REST port: Prometheus text whose counters follow the
 * jobs, behind the REST transport's checks and the configured access.
 */
import { request } from 'node:http';

import { expect } from 'chai';

import type { Client } from '../../lib/client/client.js';
import {
  METRICS_CONTENT_TYPE,
  metricsNeedLogin
} from '../../lib/metrics/metrics.js';
import {
  EventLog,
  basic,
  rest,
  startServer,
  type TestServer
} from '../helpers/server.js';

/** A metric line: name, optional {labels}, and a number. */
const SAMPLE_LINE = new RegExp(
  '^[a-zA-Z_:][a-zA-Z0-9_:]*' +
    '(\\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\\]|\\\\.)*",?)*\\})?' +
    ' (-?[0-9.e+-]+|nan|[+-]?inf)$',
  // Go's float parser, which Prometheus uses, takes NaN and Inf in any
  // case; prom-client writes "Nan".
  'i'
);

/**
 * Parses Prometheus text into `name{labels}` keys and values; throws on
 * any line that is neither a comment nor a sample.
 */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') ||
        line.startsWith('# TYPE ')) continue;
    if (!SAMPLE_LINE.test(line)) throw new Error(`bad line: ${line}`);
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

async function scrape(
  server: TestServer,
  headers: Record<string, string> = {}
): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${server.restUrl}/metrics`, { headers });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    text: await response.text()
  };
}

async function metrics(server: TestServer): Promise<Map<string, number>> {
  const { status, text } = await scrape(server);
  expect(status).to.equal(200);
  return parseMetrics(text);
}

/** A GET with headers fetch() will not let us set, such as Host. */
function rawGet(
  port: number,
  headers: Record<string, string>
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: '/metrics', headers
    }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('/metrics', function () {
  let server: TestServer;
  let client: Client;
  let events: EventLog;

  beforeEach(async function () {
    server = await startServer({ graceMs: 300 });
    client = await server.connect();
    events = new EventLog(client);
    await client.subscribe();
  });

  afterEach(async function () {
    await server.stop();
  });

  it('serves Prometheus text, open on loopback', async function () {
    const { status, type, text } = await scrape(server);
    expect(status).to.equal(200);
    expect(type).to.equal(METRICS_CONTENT_TYPE);
    expect(type).to.match(/^text\/plain; version=0\.0\.4/);
    const values = parseMetrics(text);
    expect(values.get('dispatcher_jobs{queue="pkg_queue",state="running"}'))
      .to.equal(0);
    expect(values.get('dispatcher_queue_length{queue="no_queue"}'))
      .to.equal(0);
    expect(values.has('process_cpu_seconds_total')).to.equal(true);
    expect(values.get('process_resident_memory_bytes')).to.be.above(0);
    expect(values.get('dispatcher_websocket_connections')).to.equal(1);
    expect(values.get('dispatcher_event_subscribers')).to.equal(1);
  });

  it('moves its job counters and duration histogram when jobs run',
    async function () {
      await client.dispatcher({ action: 'run', ok: 'true', bad: 'false' });
      await events.finished('ok');
      await events.finished('bad');
      const after = await metrics(server);
      expect(after.get('dispatcher_jobs_submitted_total{queue="no_queue"}'))
        .to.equal(2);
      const finished = 'dispatcher_jobs_finished_total{queue="no_queue",';
      expect(after.get(`${finished}outcome="success"}`)).to.equal(1);
      expect(after.get(`${finished}outcome="failure"}`)).to.equal(1);
      const count = 'dispatcher_job_duration_seconds_count{queue="no_queue",';
      expect(after.get(`${count}outcome="success"}`)).to.equal(1);
      expect(after.get(`${count}outcome="failure"}`)).to.equal(1);
    });

  it('counts kills, their signals and SIGKILL escalations',
    async function () {
      await client.dispatcher({
        action: 'run',
        queue: 'pkg_queue',
        stubborn: 'sh -c \'trap "" TERM; sleep 30\''
      });
      await events.next((args) => args.event === 'started');
      const running = await metrics(server);
      expect(running.get('dispatcher_jobs{queue="pkg_queue",state="running"}'))
        .to.equal(1);
      await client.dispatcher({ action: 'kill', job_id: 'stubborn' });
      await events.finished('stubborn');
      const after = await metrics(server);
      const signals = 'dispatcher_kill_signals_total{queue="pkg_queue",';
      expect(after.get(`${signals}signal="SIGTERM"}`)).to.equal(1);
      expect(after.get(`${signals}signal="SIGKILL"}`)).to.equal(1);
      expect(after.get('dispatcher_kill_escalations_total{queue="pkg_queue"}'))
        .to.equal(1);
      expect(after.get('dispatcher_jobs_finished_total' +
        '{queue="pkg_queue",outcome="killed"}')).to.equal(1);
    });

  it('counts logins and failed logins', async function () {
    const url = `${server.restUrl}/rpc/identify`;
    await rest(url, {}, basic('admin', 'wrong'));
    await rest(url, {}, basic('admin', server.adminPassword));
    const values = await metrics(server);
    expect(values.get('dispatcher_logins_total{method="basic",' +
      'result="failed"}')).to.equal(1);
    expect(values.get('dispatcher_logins_total{method="basic",' +
      'result="ok"}')).to.equal(1);
    // The spec client logged in over the WebSocket with a password.
    expect(values.get('dispatcher_logins_total{method="password",' +
      'result="ok"}')).to.equal(1);
  });

  it('keeps the REST Host and Origin checks', async function () {
    const port = server.server.restPort;
    expect(await rawGet(port, { Host: `127.0.0.1:${port}` })).to.equal(200);
    expect(await rawGet(port, { Host: 'attacker.example' }))
      .to.be.oneOf([400, 403, 421]);
    expect(await rawGet(port, {
      Host: `127.0.0.1:${port}`, Origin: 'https://attacker.example'
    })).to.equal(403);
  });

  it('accepts only GET', async function () {
    const response = await fetch(`${server.restUrl}/metrics`,
      { method: 'PUT' });
    expect(response.status).to.equal(405);
  });

  it('needs a read login when access is login', async function () {
    await server.stop();
    server = await startServer({ metricsAccess: 'login' });
    expect((await scrape(server)).status).to.equal(401);
    const { status } = await scrape(server, basic('admin', 'wrong'));
    expect(status).to.equal(401);
    const granted = await scrape(server, basic('admin', server.adminPassword));
    expect(granted.status).to.equal(200);
    parseMetrics(granted.text);
  });
});

describe('metrics access', function () {
  it('is open on a loopback address by default', function () {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
      expect(metricsNeedLogin('loopback', host), host).to.equal(false);
    }
  });

  it('needs a login on any other address by default', function () {
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.org']) {
      expect(metricsNeedLogin('loopback', host), host).to.equal(true);
    }
  });

  it('follows an explicit open or login setting', function () {
    expect(metricsNeedLogin('open', '0.0.0.0')).to.equal(false);
    expect(metricsNeedLogin('login', '127.0.0.1')).to.equal(true);
  });
});
