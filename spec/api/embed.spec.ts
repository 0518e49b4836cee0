import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import { pino } from 'pino';

import { Client, startDispatcher } from '../../lib/index.js';

describe('the package as a library', function () {
  it('starts a dispatcher in-process and drives it with the client',
    async function () {
      const dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-embed-'));
      const running = await startDispatcher(
        { dataDir, jobCwd: dataDir, wsPort: 0, restPort: 0 },
        { log: pino({ level: 'silent' }) }
      );
      try {
        expect(running.wsUrl).to.match(/^ws:\/\/127\.0\.0\.1:\d+$/);
        const client = await Client.connect(running.wsUrl, {
          user: 'admin', password: running.adminPassword!
        });
        const finished = new Promise<any>((resolve) => client.on('event',
          (message) => {
            if (message.args.event === 'finished') resolve(message.args);
          }));
        await client.subscribe();
        const reply = await client.dispatcher({
          action: 'run', hello: 'echo hello'
        });
        expect(reply.started).to.deep.equal(['hello']);
        const log = await finished;
        expect(log.commands[0].output).to.equal('hello\n');
        await client.close();
        const listed = await fetch(`${running.restUrl}/rpc/identify`);
        expect(listed.status).to.equal(200);
      } finally {
        await running.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    });
});
