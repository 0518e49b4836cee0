import { expect } from 'chai';

import {
  groupAlive,
  groupMembers,
  signalDescendants,
  signalGroup,
} from '../../lib/process/process-tree.js';
import {
  ESCAPE_AND_STAY,
  cleanUp,
  firstLine,
  isRunning,
  spawnGroup,
  trackStray,
} from './fixtures.js';
import { waitFor } from './wait.js';

describe('process tree', () => {
  afterEach(cleanUp);

  it('refuses ids 0, 1, negatives, fractions and its own pid', () => {
    for (const id of [0, 1, -1, -42, 2.5, Number.NaN, process.pid]) {
      expect(() => signalGroup(id, 'SIGTERM'), `${id}`).to.throw(RangeError);
      expect(() => groupAlive(id), `${id}`).to.throw(RangeError);
      expect(() => signalDescendants(id, 'SIGTERM'), `${id}`)
        .to.throw(RangeError);
    }
  });

  it('reports false for a group that no longer exists', async () => {
    const raw = spawnGroup('true', []);
    await raw.exited;

    expect(signalGroup(raw.pid, 'SIGTERM')).to.equal(false);
    expect(groupAlive(raw.pid)).to.equal(false);
  });

  it('sees a group alive while it runs and gone once killed', async () => {
    const raw = spawnGroup('sleep', ['300']);
    expect(groupAlive(raw.pid)).to.equal(true);

    expect(signalGroup(raw.pid, 'SIGKILL')).to.equal(true);
    await raw.exited;
    await waitFor(() => !groupAlive(raw.pid), 2000, 'group to empty');
  });

  it('reaches a descendant that left the process group', async () => {
    const raw = spawnGroup(process.execPath, ['-e', ESCAPE_AND_STAY]);
    const escaped = Number(await firstLine(raw.child));
    trackStray(escaped);
    expect(isRunning(escaped)).to.equal(true);

    await signalDescendants(raw.pid, 'SIGTERM');

    await raw.exited;
    await waitFor(() => !isRunning(escaped), 2000, 'escaped sleep to die');
  });

  it('lists group members and tells zombies from running ones', async () => {
    // The exec'd sleep never reaps its background child: a zombie.
    const raw = spawnGroup('sh', ['-c', 'sleep 0 & exec sleep 300']);
    let members = groupMembers(raw.pid);
    await waitFor(() => {
      members = groupMembers(raw.pid);
      return members !== null && members.some((member) => member.zombie);
    }, 2000, 'a zombie in the group');

    expect(members).to.deep.include({ pid: raw.pid, zombie: false });
    expect(members).to.have.length(2);
  });
});
