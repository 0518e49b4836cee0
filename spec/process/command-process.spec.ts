import { chmodSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { CommandProcess } from '../../lib/process/command-process.js';
import {
  ESCAPE_AND_EXIT,
  cleanUp,
  launch,
  nodeCommand,
  tempDir,
  trackStray,
} from './fixtures.js';
import { waitFor } from './wait.js';

/** Node script: prints the bytes of 'é€😀' one write at a time. */
const SPLIT_CHARACTERS = [
  "const bytes = Buffer.from('é€😀');",
  'let i = 0;',
  'const next = () => {',
  '  if (i === bytes.length) return;',
  '  process.stdout.write(bytes.subarray(i, i + 1));',
  '  i++;',
  '  setTimeout(next, 15);',
  '};',
  'next();',
].join('\n');

describe('CommandProcess', () => {
  afterEach(cleanUp);

  describe('starting', () => {
    it('runs the program without a shell, with stdin at end of file',
      async () => {
        const echo = await launch('echo a | b > c $HOME *.ts && d').done;
        expect(echo.output.text()).to.equal('a | b > c $HOME *.ts && d\n');

        const cat = await launch('cat').done;
        expect(cat.exitCode).to.equal(0);
        expect(cat.output.totalBytes).to.equal(0);
      });

    it('records the exit code, pid, argv and times of a normal exit',
      async () => {
        const before = Date.now();
        const child = launch(`sh -c 'exit 3'`);
        expect(child.pid).to.equal(null);
        expect(await child.started).to.be.a('number');

        const result = await child.done;
        expect(result).to.include({
          command: `sh -c 'exit 3'`,
          pid: child.pid,
          exitCode: 3,
          signal: null,
          error: null,
        });
        expect(result.argv).to.deep.equal(['sh', '-c', 'exit 3']);
        expect(result.startedAt).to.be.at.least(before);
        expect(result.finishedAt).to.be.at.least(result.startedAt);
      });

    it('runs in the given directory with the given environment',
      async () => {
        const dir = realpathSync(tempDir());
        const env = { PATH: process.env['PATH'], GREETING: 'hello' };
        const result = await launch(`sh -c 'pwd; echo $GREETING'`,
          { cwd: dir, env }).done;

        expect(result.output.text()).to.equal(`${dir}\nhello\n`);
      });

    it('resolves with "program not found" for an unknown program',
      async () => {
        const result = await launch('nosuchprog --flag').done;

        expect(result).to.include({
          pid: null,
          exitCode: null,
          signal: null,
          error: 'program not found: nosuchprog',
        });
      });

    it('resolves with "permission denied" for a file that is not executable',
      async () => {
        const dir = tempDir();
        writeFileSync(join(dir, 'script.sh'), '#!/bin/sh\necho hi\n');
        chmodSync(join(dir, 'script.sh'), 0o644);
        const result = await launch('./script.sh', { cwd: dir }).done;

        expect(result.error).to.equal('permission denied: ./script.sh');
        expect(result.pid).to.equal(null);
      });

    it('resolves with a reason when the directory is missing or a file',
      async () => {
        const missing = await launch('true', { cwd: '/nope' }).done;
        expect(missing.error)
          .to.equal('working directory does not exist: /nope');

        const file = await launch('true', { cwd: process.execPath }).done;
        expect(file.error).to.equal(
          `working directory is not a directory: ${process.execPath}`);
        expect(file.pid).to.equal(null);
      });

    it('resolves with the splitting error for an unbalanced quote',
      async () => {
        const child = new CommandProcess('echo "open', {
          graceMs: 100,
          maxOutputBytes: 1024,
        });
        expect(() => child.start()).not.to.throw();

        const result = await child.done;
        expect(result.error).to.equal(
          'unterminated double quote in command: echo "open');
        expect(result).to.include({ pid: null, exitCode: null });
        expect(result.argv).to.deep.equal([]);
      });

    it('throws when started twice', async () => {
      const child = launch('true');
      expect(() => child.start()).to.throw('already started');
      await child.done;
    });

    it('rejects negative durations at construction', () => {
      const options = { graceMs: -1, maxOutputBytes: 10 };
      expect(() => new CommandProcess('true', options)).to.throw(RangeError);
    });
  });

  describe('output', () => {
    it('keeps stdout and stderr in the order they were written',
      async () => {
        const script = 'for i in $(seq 300); do echo out$i; echo err$i >&2; done';
        let delivered = '';
        const result = await launch(`sh -c '${script}'`, {
          onOutput: (text) => (delivered += text),
        }).done;

        let expected = '';
        for (let i = 1; i <= 300; i++) expected += `out${i}\nerr${i}\n`;
        expect(result.output.text() === expected, 'output in order')
          .to.equal(true);
        expect(delivered === expected, 'deltas in order').to.equal(true);
      });

    it('delivers every byte of seq 1 300000 while the buffer truncates',
      async () => {
        let expected = '';
        for (let i = 1; i <= 300000; i++) expected += `${i}\n`;
        const deltas: string[] = [];
        const result = await launch('seq 1 300000', {
          maxOutputBytes: 1000,
          onOutput: (text) => deltas.push(text),
        }).done;

        expect(deltas.join('') === expected, 'deltas match seq').to.equal(true);
        expect(result.exitCode).to.equal(0);
        expect(result.output.totalBytes).to.equal(expected.length);
        expect(result.output.omittedBytes).to.equal(expected.length - 1000);
        expect(result.output.text()).to.equal(expected.slice(0, 500) +
          `\n[... ${expected.length - 1000} bytes of output omitted ...]\n` +
          expected.slice(-500));
      });

    it('delivers multi-byte characters split across reads intact',
      async () => {
        const deltas: string[] = [];
        const result = await launch(nodeCommand(SPLIT_CHARACTERS), {
          onOutput: (delta) => deltas.push(delta),
        }).done;

        expect(deltas.join('')).to.equal('é€😀');
        expect(result.output.totalBytes).to.equal(9);
      });

    it('stops waiting for output drainMs after the group is gone',
      async () => {
        let printed = '';
        const child = launch(nodeCommand(ESCAPE_AND_EXIT), {
          drainMs: 200,
          onOutput: (text) => (printed += text),
        });
        await waitFor(() => printed.includes('\n'), 5000, 'daemon pid');
        const daemon = Number(printed.trim());
        trackStray(daemon);

        const result = await child.done;
        expect(result.exitCode).to.equal(0);
        expect(result.finishedAt - result.startedAt).to.be.at.least(200);
        expect(result.output.text()).to.equal(`${daemon}\n`);
      });
  });
});
