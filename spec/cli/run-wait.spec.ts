import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { startServer, type TestServer } from '../helpers/server.js';
import { bin, cli } from './run-cli.js';

describe('run --wait and chain files', function () {
  let server: TestServer;
  let env: Record<string, string>;
  let dir: string;

  before(async function () {
    server = await startServer({ graceMs: 500 });
    env = {
      DISPATCHER_URL: server.wsUrl,
      DISPATCHER_DATA_DIR: server.dataDir
    };
    dir = await mkdtemp(join(tmpdir(), 'dispatcher-chain-'));
  });

  after(async function () {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("exits with the job's exit code and prints its output",
    async function () {
      const failed = await cli(['run', '--wait', 'three', '--',
        'sh', '-c', 'echo before; exit 3'], env);
      expect(failed.code).to.equal(3);
      expect(failed.stdout).to.equal('before\n');
      expect(failed.stderr).to.match(/job three: failure .*exit status 3/);
      const passed = await cli(['run', '--wait', 'zero', '-c', 'echo one',
        '-c', 'echo two'], env);
      expect(passed.code).to.equal(0);
      expect(passed.stdout).to.equal('one\ntwo\n');
    });

  it('exits with 128 plus the signal that ended the job', async function () {
    const run = await cli(['run', '--wait', 'signalled', '--',
      'sh', '-c', 'kill -TERM $$'], env);
    expect(run.code).to.equal(143);
    expect(run.stderr).to.match(/ended by SIGTERM/);
  });

  it('streams output while the job runs', async function () {
    const child = spawn(process.execPath, [bin, 'run', '--wait', 'stream',
      '--', 'sh', '-c', 'echo early; sleep 2; echo late'],
    { env: { ...process.env, ...env } });
    let text = '';
    child.stdout.on('data', (chunk) => (text += chunk));
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', resolve));
    const deadline = Date.now() + 1500;
    while (text !== 'early\n' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Seen before the job has printed its last line.
    expect(text).to.equal('early\n');
    expect(await exited).to.equal(0);
    expect(text).to.equal('early\nlate\n');
  });

  it('prints every byte of output the server sent without its text',
    async function () {
      // Zero bytes cost the server the most JSON: past its time for
      // output text, it sends their events lean and the text is paged.
      const printed = 20_000_000;
      const child = spawn(process.execPath, [bin, 'run', '--wait', 'zeros',
        '-c', 'echo first', '-c', `head -c ${printed} /dev/zero`,
        '-c', 'echo last'], { env: { ...process.env, ...env } });
      const chunks: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const code = await new Promise<number | null>((resolve) =>
        child.on('exit', resolve));
      expect(code, stderr).to.equal(0);
      expect(stderr).to.not.include('skipped');
      const stdout = Buffer.concat(chunks);
      expect(stdout.length).to.equal(printed + 'first\nlast\n'.length);
      expect(stdout.subarray(0, 6).toString()).to.equal('first\n');
      expect(stdout.subarray(-5).toString()).to.equal('last\n');
      expect(stdout.subarray(6, -5).every((byte) => byte === 0))
        .to.equal(true);
    });

  it('prints the finished job as JSON with --json', async function () {
    const run = await cli(['run', '--wait', '--json', 'quiet', '--',
      'echo', 'hi'], env);
    expect(run.code).to.equal(0);
    const job = JSON.parse(run.stdout);
    expect(job).to.include({ process_id: 'quiet', outcome: 'success' });
  });

  it('runs a chain from a YAML file in the queue it names',
    async function () {
      const file = join(dir, 'chain.yaml');
      await writeFile(file, 'queue: pkg_queue\ncommands:\n' +
        '  - echo first\n  - sh -c "echo second"\n');
      const run = await cli(['run', 'yaml-chain', '--file', file, '--wait'],
        env);
      expect(run.code).to.equal(0);
      expect(run.stdout).to.equal('first\nsecond\n');
      expect(run.stderr).to.match(/queued yaml-chain in pkg_queue/);
    });

  it('runs a chain from a JSON list of commands', async function () {
    const file = join(dir, 'chain.json');
    await writeFile(file, JSON.stringify(['echo a', 'echo b']));
    const run = await cli(['run', 'json-chain', '-f', file, '--wait'], env);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.equal('a\nb\n');
  });

  it('says what is wrong with a chain file', async function () {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'queue: pkg_queue\ncommands: [1, 2]\n');
    const run = await cli(['run', 'bad', '--file', file], env);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.include(
      'must hold a list of command strings, or {queue, commands}');
  });
});
