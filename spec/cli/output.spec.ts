import { expect } from 'chai';

import { EventLog, startServer, type TestServer } from '../helpers/server.js';
import { cli } from './run-cli.js';

const header =
  /^ID +QUEUE +STATE +POS +PID +CPU +MEM +ELAPSED +COMMAND$/;
const usage = String.raw`(\d+\.\d%|-|\?)\s+(\d+(\.\d)? [KMGT]?i?B|-|\?)`;

/** Where each column of a table starts, from its header line. */
function starts(head: string): number[] {
  return [...head.matchAll(/\S+/g)].map((match) => match.index);
}

describe('command line output', function () {
  let server: TestServer;
  let env: Record<string, string>;

  before(async function () {
    server = await startServer({ graceMs: 500 });
    env = {
      DISPATCHER_URL: server.wsUrl,
      DISPATCHER_DATA_DIR: server.dataDir
    };
    const client = await server.connect();
    const events = new EventLog(client);
    await client.subscribe();
    await client.dispatcher({ action: 'run', queue: 'pkg_queue',
      'table-a': 'sleep 30', 'table-bb': 'sleep 30' });
    await client.dispatcher({ action: 'run', done: 'echo finished' });
    await events.finished('done');
    await events.next((e) => e.event === 'started' &&
      e.process_id === 'table-a');
  });

  after(async function () {
    await server.stop();
  });

  it('prints list as a plain aligned table when piped', async function () {
    const run = await cli(['list'], env);
    expect(run.code).to.equal(0);
    expect(run.stdout).not.to.include('\x1b');
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).to.have.length(3);
    expect(lines[0]).to.match(header);
    expect(lines[1]).to.match(new RegExp(String.raw`^table-a\s+pkg_queue\s+` +
      String.raw`running\s+0\s+\d+\s+${usage}\s+\d+s\s+sleep 30$`));
    expect(lines[2]).to.match(
      /^table-bb\s+pkg_queue\s+pending\s+1(\s+-){4}\s+sleep 30$/);
    for (const line of lines.slice(1)) {
      for (const start of starts(lines[0]).slice(1)) {
        expect(line[start - 1], line).to.equal(' ');
        expect(line[start], line).to.match(/\S/);
      }
    }
  });

  it('colours the table with FORCE_COLOR, and never with NO_COLOR',
    async function () {
      const forced = await cli(['list'], { ...env, FORCE_COLOR: '1' });
      expect(forced.stdout).to.include('\x1b[');
      const plain = await cli(['list'],
        { ...env, FORCE_COLOR: '1', NO_COLOR: '1' });
      expect(plain.stdout).not.to.include('\x1b');
    });

  it('prints history as a table of finished jobs', async function () {
    const run = await cli(['history'], env);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(
      /^FINISHED\s+ID\s+QUEUE\s+OUTCOME\s+SECONDS\s+COMMAND$/);
    expect(lines[1]).to.match(new RegExp(String.raw`^\d{4}-\d\d-\d\d ` +
      String.raw`\d\d:\d\d:\d\d\s+done\s+no_queue\s+success\s+\d+\.\d\s+` +
      'echo finished$'));
  });

  it('prints JSON that parses for list, history and logs', async function () {
    const list = JSON.parse((await cli(['list', '--json'], env)).stdout);
    expect(list.jobs.pkg_queue['table-a'].state).to.equal('running');
    const history = JSON.parse(
      (await cli(['history', '--json'], env)).stdout);
    expect(history[0]).to.include({ process_id: 'done', outcome: 'success' });
    const logs = JSON.parse((await cli(['logs', 'done', '--json'], env))
      .stdout);
    expect(logs.commands[0].output).to.equal('finished\n');
    const pause = await cli(['pause', 'iocage_queue', '--json'], env);
    expect(JSON.parse(pause.stdout)).to.deep.equal(
      { queue: 'iocage_queue', paused: true });
    const resume = await cli(['resume', 'iocage_queue', '--json'], env);
    expect(JSON.parse(resume.stdout).paused).to.equal(false);
  });

  it('ends every command help with examples', async function () {
    for (const command of ['run', 'list', 'kill', 'logs', 'history',
      'pause', 'resume', 'watch', 'serve']) {
      const help = await cli([command, '--help'], env);
      expect(help.stdout, command).to.match(/\nExamples?:\n  dispatcher /);
    }
  });
});
