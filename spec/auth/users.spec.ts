/**
 * The users file: scrypt hashes, hashes made with earlier parameters,
 * and what a password check leaves in memory.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { UserStore, VERIFIED_TTL_MS } from '../../lib/auth/users.js';

/** A hash as the users file held them before: N = 16384, r = 8, p = 1. */
function earlierHash(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 });
  return ['scrypt', 16384, 8, 1, salt.toString('base64'),
    key.toString('base64')].join('$');
}

async function writeUsers(
  dataDir: string,
  users: Record<string, { role: string; password: string }>
): Promise<void> {
  await writeFile(join(dataDir, 'users.json'), JSON.stringify({ users }), {
    mode: 0o600
  });
}

async function readHashes(dataDir: string): Promise<Record<string, string>> {
  const { users } = JSON.parse(
    await readFile(join(dataDir, 'users.json'), 'utf8')
  );
  return Object.fromEntries(Object.entries(users)
    .map(([name, user]) => [name, (user as { password: string }).password]));
}

function median(list: number[]): number {
  return [...list].sort((a, b) => a - b)[list.length >> 1];
}

/**
 * How much longer a wrong password takes for `name` than for `other`:
 * the ratio of their medians over `rounds` checks each, taken in turns.
 */
async function slowerBy(
  store: UserStore,
  name: string,
  other: string,
  rounds = 6
): Promise<number> {
  await store.verify('warm-up', 'x');
  const time = async (user: string) => {
    const start = process.hrtime.bigint();
    await store.verify(user, 'wrong password');
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  const times: number[] = [];
  const others: number[] = [];
  for (let i = 0; i < rounds; i++) {
    times.push(await time(name));
    others.push(await time(other));
  }
  return median(times) / median(others);
}

describe('user store', function () {
  let dataDir: string;

  beforeEach(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-users-'));
  });

  afterEach(async function () {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('hashes passwords with N = 32768, r = 8, p = 3', async function () {
    const { store } = await UserStore.open(dataDir);
    await store.add('alice', 'a long passphrase', 'read');
    const { alice } = await readHashes(dataDir);
    expect(alice).to.match(/^scrypt\$32768\$8\$3\$[A-Za-z0-9+/=]{24}\$/);
    expect(await store.verify('alice', 'a long passphrase')).to.equal('read');
    expect(await store.verify('alice', 'a long passphrase!')).to.equal(null);
  });

  it('passes a right password again without a check for five minutes, ' +
    'a wrong one never', async function () {
    let now = 1_000_000;
    const { store } = await UserStore.open(dataDir, { now: () => now });
    await store.add('alice', 'first secret', 'full');

    expect(await store.verify('alice', 'first secret')).to.equal('full');
    expect(store.checks).to.equal(1);
    expect(await store.verify('alice', 'first secret')).to.equal('full');
    expect(store.checks).to.equal(1);
    expect(await store.verify('alice', 'first secret!')).to.equal(null);
    expect(await store.verify('alice', 'first secre')).to.equal(null);
    expect(store.checks).to.equal(3);

    now += VERIFIED_TTL_MS;
    expect(await store.verify('alice', 'first secret')).to.equal('full');
    expect(store.checks).to.equal(4);

    // A new password ends the old one at once.
    await store.add('alice', 'second secret', 'read');
    expect(await store.verify('alice', 'first secret')).to.equal(null);
    expect(await store.verify('alice', 'second secret')).to.equal('read');
    expect(store.checks).to.equal(6);
  });

  it('verifies a hash made with earlier parameters and re-hashes it at ' +
    'the first right password', async function () {
    const earlier = earlierHash('old secret');
    await writeUsers(dataDir, { admin: { role: 'full', password: earlier } });
    const { store } = await UserStore.open(dataDir);

    expect(await store.verify('admin', 'wrong')).to.equal(null);
    expect((await readHashes(dataDir)).admin).to.equal(earlier);

    expect(await store.verify('admin', 'old secret')).to.equal('full');
    const rehashed = (await readHashes(dataDir)).admin;
    expect(rehashed).to.match(/^scrypt\$32768\$8\$3\$/);
    expect(await store.verify('admin', 'old secret')).to.equal('full');
    expect((await readHashes(dataDir)).admin).to.equal(rehashed);
    const reopened = (await UserStore.open(dataDir)).store;
    expect(await reopened.verify('admin', 'old secret')).to.equal('full');
  });

  it('keeps users added to the file since it was read when it re-hashes',
    async function () {
      await writeUsers(dataDir, {
        admin: { role: 'full', password: earlierHash('old secret') }
      });
      const { store } = await UserStore.open(dataDir);
      // `dispatcher user add` while the server runs.
      const other = (await UserStore.open(dataDir)).store;
      await other.add('bob', 'bob secret', 'read');

      expect(await store.verify('admin', 'old secret')).to.equal('full');
      const hashes = await readHashes(dataDir);
      expect(Object.keys(hashes).sort()).to.deep.equal(['admin', 'bob']);
      expect(hashes.admin).to.match(/^scrypt\$32768\$8\$3\$/);
      const reopened = (await UserStore.open(dataDir)).store;
      expect(await reopened.verify('bob', 'bob secret')).to.equal('read');
    });

  it('takes as long for a name that does not exist as for a wrong ' +
    'password', async function () {
    const { store } = await UserStore.open(dataDir);
    // Without the decoy check, an unknown name answers in well under a
    // tenth of the time; the margin is for a busy machine.
    expect(await slowerBy(store, 'ghost', 'admin')).to.be.within(0.5, 2);
  });

  it('takes as long for a wrong password against an earlier hash as for ' +
    'a name that does not exist', async function () {
    await writeUsers(dataDir, {
      admin: { role: 'full', password: earlierHash('old secret') }
    });
    const { store } = await UserStore.open(dataDir);
    // Checked alone, the earlier hash answers several times sooner.
    expect(await slowerBy(store, 'ghost', 'admin')).to.be.within(0.5, 2);
  });

  it('gives the memory of each password check back to the system',
    function () {
      // In a process of its own, so that nothing else moves its memory:
      // eight checks, four at a time, on the four threads of the pool.
      const users = fileURLToPath(
        new URL('../../lib/auth/users.js', import.meta.url)
      );
      const script = `
        const { UserStore } = await import(${JSON.stringify(users)});
        const { store } = await UserStore.open(process.argv[1]);
        await store.verify('admin', 'warm-up');
        const before = process.memoryUsage().rss;
        for (let round = 0; round < 2; round++) {
          await Promise.all(['a', 'b', 'c', 'd']
            .map((password) => store.verify('admin', password)));
        }
        console.log(process.memoryUsage().rss - before);`;
      const grown = Number(execFileSync(process.execPath,
        ['--input-type=module', '-e', script, dataDir],
        { encoding: 'utf8' }));
      // Kept, each pool thread's check would hold its 32 MiB: 128 MiB.
      expect(grown).to.be.below(16 * 1024 * 1024);
    });
});
