import { spawn } from 'node:child_process';

import { expect } from 'chai';

import { quoteCommand } from '../../lib/cli/quote.js';
import { splitCommand } from '../../lib/process/index.js';
import { EventLog, startServer, type TestServer } from '../helpers/server.js';
import { bin, cli } from './run-cli.js';

describe('command line', function () {
  let server: TestServer;
  let env: Record<string, string>;

  before(async function () {
    server = await startServer({ graceMs: 1000 });
    env = {
      DISPATCHER_URL: server.wsUrl,
      DISPATCHER_DATA_DIR: server.dataDir
    };
  });

  after(async function () {
    await server.stop();
  });

  it('quotes words so the server splits them back the same', function () {
    const words = ['sh', '-c', 'echo "a b" \\ done', '', "it's"];
    expect(splitCommand(quoteCommand(words))).to.deep.equal(words);
  });

  it('runs, lists and kills jobs with the admin password file',
    async function () {
      const watcher = await server.connect();
      const events = new EventLog(watcher);
      await watcher.subscribe();
      const run = await cli(['run', '--queue', 'pkg_queue', 'slow', '--',
        'sh', '-c', 'echo "hello world"; sleep 30'], env);
      expect(run.stderr).to.equal('');
      expect(run.stdout).to.equal('queued slow in pkg_queue\n');
      await cli(['run', '--queue', 'pkg_queue', 'next', '--', 'true'], env);
      await events.next((e) => e.event === 'output' &&
        e.process_id === 'slow');
      const list = await cli(['list'], env);
      const lines = list.stdout.trim().split('\n');
      expect(lines[0]).to.match(/^ID\s+QUEUE\s+STATE\s+POS\s+PID/);
      expect(lines[1]).to.match(/^slow\s+pkg_queue\s+running\s+0\s+\d+/);
      expect(lines[2]).to.match(/^next\s+pkg_queue\s+pending\s+1\s+-/);
      const json = await cli(['list', '--json'], env);
      expect(JSON.parse(json.stdout).jobs.pkg_queue.slow.state)
        .to.equal('running');
      const kill = await cli(['kill', 'slow', 'next', 'ghost'], env);
      expect(kill.code).to.equal(1);
      expect(kill.stdout).to.equal('killing: slow next\nunknown: ghost\n');
      const log = await events.finished('slow');
      expect(log.outcome).to.equal('killed');
      expect(log.commands[0].output).to.equal('hello world\n');
    });

  it('prints events one per line with watch', async function () {
    const watch = spawn(process.execPath, [bin, 'watch'], {
      env: { ...process.env, ...env }
    });
    let text = '';
    let status = '';
    watch.stdout.on('data', (chunk) => (text += chunk));
    watch.stderr.on('data', (chunk) => (status += chunk));
    try {
      // It says so on stderr once subscribed.
      await until(() => /watching/.test(status));
      await cli(['run', 'seen', '--', 'echo', 'from a job'], env);
      await until(() => /finished seen success/.test(text));
      expect(text).to.match(/queued\s+seen \[no_queue\] echo "from a job"/);
      expect(text).to.match(/seen \| from a job/);
    } finally {
      watch.kill();
    }
  });

  it('says what to do when the server cannot be reached', async function () {
    const run = await cli(['list'], {
      ...env, DISPATCHER_URL: 'ws://127.0.0.1:1'
    });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/cannot reach the dispatcher .*refused/);
    expect(run.stderr).to.match(/Is the server running\?/);
  });

  it('says what to do on a wrong password', async function () {
    const run = await cli(['list'], { ...env, DISPATCHER_PASSWORD: 'nope' });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/Unauthorized: wrong username or password/);
    expect(run.stderr).to.match(/Check --user and --password/);
  });
});

async function until(condition: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
