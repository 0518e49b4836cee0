import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { expect } from 'chai';

import { InlineSpawner, Spawner } from '../../lib/process/spawner.js';
import { cleanUp, isRunning, launch, liveGroupPids } from './fixtures.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);
const processIndex = fileURLToPath(
  new URL('../../lib/process/index.js', import.meta.url),
);

describe('spawning through the helper', () => {
  let spawner: Spawner | null = null;

  afterEach(async () => {
    await cleanUp();
    await spawner?.close();
    spawner = null;
  });

  it('starts the command as a child of the helper, not of this process',
    async () => {
      spawner = new Spawner();
      const child = launch('sleep 300', { spawner });
      const pid = (await child.started)!;

      expect(parentOf(pid)).to.equal(spawner.pid);
      expect(spawner.pid).not.to.equal(process.pid);
      child.signal('SIGKILL');
      expect((await child.done).signal).to.equal('SIGKILL');
    });

  it('hands over the output unread, whatever the command printed first',
    async () => {
      const commands = Array.from({ length: 40 }, (_, i) =>
        launch(`sh -c 'echo out${i}; echo err${i} >&2'`));
      const results = await Promise.all(commands.map((child) => child.done));

      results.forEach((result, i) => {
        expect(result.exitCode).to.equal(0);
        expect(result.output.text().split('\n').sort())
          .to.deep.equal(['', `err${i}`, `out${i}`]);
      });
    });

  it('runs commands the same way without a helper', async () => {
    const inline = new InlineSpawner();
    const child = launch(`sh -c 'echo out; echo err >&2; exit 4'`,
      { spawner: inline });
    const result = await child.done;

    expect(result).to.include({ exitCode: 4, error: null });
    expect(result.output.text()).to.equal('out\nerr\n');
    const sleeper = launch('sleep 300', { spawner: inline });
    expect(parentOf((await sleeper.started)!)).to.equal(process.pid);
    sleeper.signal('SIGKILL');
    await sleeper.done;
    const missing = await launch('nosuchprog', { spawner: inline }).done;
    expect(missing.error).to.equal('program not found: nosuchprog');
    await inline.close();
  });

  it('applies a signal asked for before the process ran', async () => {
    const child = launch('sleep 300');
    child.signal('SIGKILL');

    const result = await child.done;
    expect(result.pid).to.be.a('number');
    expect(result.signal).to.equal('SIGKILL');
    expect(liveGroupPids(result.pid!)).to.deep.equal([]);
  });

  it('ends the commands of a helper that died and starts a new helper',
    async () => {
      spawner = new Spawner();
      const child = launch(`sh -c 'sleep 300 & sleep 300 & wait'`,
        { spawner });
      const pid = (await child.started)!;
      const first = spawner.pid!;
      await waitFor(() => liveGroupPids(pid).length === 3, 5000, 'the tree');

      process.kill(first, 'SIGKILL');
      const result = await child.done;

      expect(result.error).to.match(/^the spawn helper exited \(SIGKILL\)/);
      expect(liveGroupPids(pid)).to.deep.equal([]);
      const next = await launch('echo again', { spawner }).done;
      expect(next.output.text()).to.equal('again\n');
      expect(spawner.pid).not.to.equal(first);
      await waitFor(() => !isRunning(first), 2000, 'the first helper');
    });

  it('closes the helper once its commands are done, not before', async () => {
    spawner = new Spawner();
    const running = launch('sleep 300', { spawner });
    await running.started;
    const helper = spawner.pid!;

    await spawner.close();
    expect(isRunning(helper)).to.equal(true);
    running.signal('SIGKILL');
    await running.done;
    await spawner.close();
    expect(isRunning(helper)).to.equal(false);
    expect(spawner.pid).to.equal(null);

    const again = await launch('echo again', { spawner }).done;
    expect(again.output.text()).to.equal('again\n');
  });

  it('lets a process that ran commands exit on its own', async () => {
    const script = [
      `const { CommandProcess } = await import(${JSON.stringify(processIndex)});`,
      "const child = new CommandProcess('echo done', { graceMs: 100, maxOutputBytes: 100 });",
      'child.start();',
      'process.stdout.write((await child.done).output.text());',
    ].join('\n');

    const { stdout } = await run(process.execPath,
      ['--input-type=module', '-e', script], { timeout: 10_000 });
    expect(stdout).to.equal('done\n');
  });
});

/** The parent pid of `pid`, from /proc. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
