import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { EventLog, startServer } from '../helpers/server.js';

describe('a full disk', function () {
  let dataDir: string;
  let mounted = false;

  before(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-full-'));
    const output = join(dataDir, 'output');
    mkdirSync(output);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs',
        output], { stdio: 'ignore' });
      mounted = true;
    } catch {
      console.log('      (skipped: mounting a small tmpfs needs root)');
      this.skip();
    }
  });

  after(async function () {
    if (mounted) execFileSync('umount', [join(dataDir, 'output')]);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('marks output truncated and keeps running jobs', async function () {
    const server = await startServer({ dataDir, jobCwd: dataDir });
    try {
      const client = await server.connect();
      const events = new EventLog(client);
      await client.subscribe();
      await client.dispatcher({
        action: 'run', queue: 'pkg_queue', flood: 'seq 1 200000'
      });
      await client.dispatcher({
        action: 'run', queue: 'pkg_queue', after: 'echo still here'
      });
      const flood = await events.finished('flood');
      expect(flood.outcome).to.equal('success');
      const after = await events.finished('after');
      expect(after.outcome).to.equal('success');
      // The files are flushed, and their sizes corrected, just after the
      // job ends.
      let job;
      const deadline = Date.now() + 5000;
      do {
        ({ job } = await client.dispatcher({ action: 'get', job_id: 'flood' }));
      } while (!job.output_truncated && Date.now() < deadline);
      expect(job.output_truncated).to.equal(true);
      expect(job.commands[0].output_bytes).to.be.below(
        flood.commands[0].output_bytes);
    } finally {
      await server.stop();
    }
  });
});
