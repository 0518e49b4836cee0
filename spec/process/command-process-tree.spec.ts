import { setTimeout as delay } from 'node:timers/promises';

import { expect } from 'chai';

import { CommandProcess } from '../../lib/process/command-process.js';
import {
  ESCAPE_AND_STAY,
  cleanUp,
  isRunning,
  launch,
  liveGroupPids,
  nodeCommand,
  trackStray,
} from './fixtures.js';
import { hasSettled, waitFor } from './wait.js';

/** Waits until the group led by `pgid` has `count` running processes. */
async function waitForMembers(pgid: number, count: number): Promise<void> {
  await waitFor(() => liveGroupPids(pgid).length === count, 5000,
    `${count} processes in group ${pgid}`);
}

describe('CommandProcess process tree', () => {
  afterEach(cleanUp);

  it('terminates group members left behind when the main process exits',
    async () => {
      const child = launch(`sh -c 'sleep 300 & echo $!'`, { graceMs: 5000 });
      const result = await child.done;

      const stray = Number(result.output.text().trim());
      expect(result.exitCode).to.equal(0);
      expect(isRunning(stray)).to.equal(false);
      expect(liveGroupPids(child.pid!)).to.deep.equal([]);
      // SIGTERM sufficed, so the 5 s grace period was not used up.
      expect(result.finishedAt - result.startedAt).to.be.below(2000);
    });

  it('kills left-behind members that ignore SIGTERM after graceMs',
    async () => {
      const command = `sh -c "trap '' TERM; sleep 300 & echo $!"`;
      const child = launch(command, { graceMs: 300 });
      const result = await child.done;

      const stray = Number(result.output.text().trim());
      expect(isRunning(stray)).to.equal(false);
      expect(liveGroupPids(child.pid!)).to.deep.equal([]);
      expect(result.finishedAt - result.startedAt).to.be.at.least(300);
    });

  it('sends SIGTERM to every process of the group', async () => {
    const child = launch(`sh -c 'sleep 300 & sleep 300 & wait'`);
    await child.started;
    await waitForMembers(child.pid!, 3);

    child.signal('SIGTERM');
    const result = await child.done;

    expect(result).to.include({ exitCode: null, signal: 'SIGTERM' });
    expect(liveGroupPids(child.pid!)).to.deep.equal([]);
  });

  it('lets a grandchild ignoring SIGTERM survive it and die on SIGKILL',
    async () => {
      const child = launch(`sh -c 'trap "" TERM; sleep 300 & wait'`);
      await child.started;
      await waitForMembers(child.pid!, 2);

      child.signal('SIGTERM');
      // Surviving cannot be awaited: give SIGTERM time to do harm.
      await delay(300);
      expect(liveGroupPids(child.pid!)).to.have.length(2);
      expect(await hasSettled(child.done)).to.equal(false);

      child.signal('SIGKILL');
      const result = await child.done;
      expect(result.signal).to.equal('SIGKILL');
      expect(liveGroupPids(child.pid!)).to.deep.equal([]);
    });

  it('kills a SIGTERM-proof loop that keeps starting processes', async () => {
    const loop = `trap '' TERM; while true; do sleep 0.1; done`;
    const child = launch(`sh -c "${loop}"`);
    await child.started;
    await waitForMembers(child.pid!, 2);

    child.signal('SIGTERM');
    await delay(300);
    expect(liveGroupPids(child.pid!)).to.include(child.pid!);

    child.signal('SIGKILL');
    await child.done;
    expect(liveGroupPids(child.pid!)).to.deep.equal([]);
  });

  it('reaches a descendant that left the process group', async () => {
    let printed = '';
    const child = launch(nodeCommand(ESCAPE_AND_STAY), {
      onOutput: (text) => (printed += text),
    });
    await waitFor(() => printed.includes('\n'), 5000, 'escaped pid');
    const escaped = Number(printed.trim());
    trackStray(escaped);

    child.signal('SIGTERM');
    const result = await child.done;

    expect(result.signal).to.equal('SIGTERM');
    await waitFor(() => !isRunning(escaped), 2000, 'escaped sleep to die');
  });

  it('records a signal sent to the main process from outside', async () => {
    const child = launch('sleep 300');
    await child.started;
    process.kill(child.pid!, 'SIGKILL');

    const result = await child.done;
    expect(result).to.include({ exitCode: null, signal: 'SIGKILL' });
  });

  it('ignores signal() before start and once done', async () => {
    const idle = new CommandProcess('sleep 300', {
      graceMs: 100,
      maxOutputBytes: 1024,
    });
    expect(() => idle.signal('SIGKILL')).not.to.throw();
    expect(idle.pid).to.equal(null);

    const child = launch('true');
    const result = await child.done;

    expect(() => child.signal('SIGKILL')).not.to.throw();
    expect(result.exitCode).to.equal(0);
    expect(() => child.signal('SIGHUP' as 'SIGKILL')).to.throw(TypeError);
  });
});
