import { expect } from 'chai';

import { groupMembers } from '../../lib/process/process-tree.js';
import { ProcessGroup } from '../../lib/process/process-group.js';
import { cleanUp, liveGroupPids, spawnGroup } from './fixtures.js';
import { waitFor } from './wait.js';

describe('ProcessGroup', () => {
  afterEach(cleanUp);

  it('refuses an id that must never be signalled', () => {
    expect(() => new ProcessGroup(1)).to.throw(RangeError);
    expect(() => new ProcessGroup(process.pid)).to.throw(RangeError);
  });

  it('sweeps a group that is already empty without signalling', async () => {
    const raw = spawnGroup('true', []);
    const group = new ProcessGroup(raw.pid);
    await raw.exited;

    expect(await group.sweep(100)).to.equal('empty');
    expect(group.gone).to.equal(true);
  });

  it('ends the members left behind with SIGTERM', async () => {
    const raw = spawnGroup('sh', ['-c', 'sleep 300 & sleep 300 & echo go']);
    const group = new ProcessGroup(raw.pid);
    await raw.exited;
    const startedAt = Date.now();

    expect(await group.sweep(5000)).to.equal('terminated');
    expect(Date.now() - startedAt).to.be.below(2000);
    expect(liveGroupPids(raw.pid)).to.deep.equal([]);
  });

  it('escalates to SIGKILL after the grace period', async () => {
    const script = "trap '' TERM; sleep 300 & echo go";
    const raw = spawnGroup('sh', ['-c', script]);
    const group = new ProcessGroup(raw.pid);
    await raw.exited;
    const startedAt = Date.now();

    expect(await group.sweep(200)).to.equal('killed');
    expect(Date.now() - startedAt).to.be.at.least(200);
    expect(liveGroupPids(raw.pid)).to.deep.equal([]);
  });

  it('never signals the group again once it has been seen empty', async () => {
    const raw = spawnGroup('true', []);
    const group = new ProcessGroup(raw.pid);
    await raw.exited;
    expect(group.alive()).to.equal(false);

    const kill = process.kill;
    const targets: number[] = [];
    process.kill = (pid: number, signal?: string | number) => {
      targets.push(pid);
      return kill.call(process, pid, signal);
    };
    try {
      expect(group.signal('SIGKILL')).to.equal(false);
      expect(group.alive()).to.equal(false);
      expect(await group.sweep(0)).to.equal('empty');
    } finally {
      process.kill = kill;
    }
    expect(targets).to.deep.equal([]);
  });

  it('counts a group holding only zombies as gone', async () => {
    // The exec'd sleep never reaps its background child, and once the
    // sleep dies that zombie goes to PID 1, which may not reap it either.
    const raw = spawnGroup('sh', ['-c', 'sleep 0 & exec sleep 300']);
    const group = new ProcessGroup(raw.pid);
    await waitFor(
      () => groupMembers(raw.pid)?.some((member) => member.zombie) ?? false,
      2000, 'a zombie in the group');
    process.kill(raw.pid, 'SIGKILL');
    await raw.exited;

    expect(await group.sweep(5000)).to.equal('empty');
    expect(group.gone).to.equal(true);
  });
});
