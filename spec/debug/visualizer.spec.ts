/**
 * The debugging page at `/debug/`, driven in a headless chromium: it
 * logs in, draws the three machines from their definitions and follows
 * a job's actor from pending through running to done. The browser runs
 * from a separate process (page-driver.ts). Skipped, with the reason
 * printed, where chromium cannot be launched.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { expect } from 'chai';

import { describeMachines } from '../../lib/debug/machines.js';
import { startServer, type TestServer } from '../helpers/server.js';
import type { PageReport } from './page-driver.js';

const run = promisify(execFile);
const DRIVER = fileURLToPath(new URL('page-driver.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** docs/visualizer.png is rewritten only when asked for. */
const SCREENSHOT = process.env.UPDATE_SCREENSHOT === '1'
  ? join(ROOT, 'docs', 'visualizer.png')
  : join(tmpdir(), `dispatcher-visualizer-${process.pid}.png`);

describe('machine descriptions', function () {
  it('walks the real machines, with their nested states and delays',
    function () {
      const [supervisor, queue, job] = describeMachines();
      expect(supervisor.root.states.map((s) => s.key))
        .to.deep.equal(['serving', 'closed']);
      expect(queue.root.id).to.equal(queue.name);
      const running = job.root.states.find((s) => s.key === 'running')!;
      const command = running.states.find((s) => s.key === 'command')!;
      const terminating = command.states
        .find((s) => s.key === 'terminating')!;
      expect(terminating.transitions.map((t) => t.event))
        .to.include('after grace');
      const pending = job.root.states.find((s) => s.key === 'pending')!;
      expect(pending.transitions).to.deep.include({
        event: 'JOB.START', kind: 'on', targets: ['job.running'], guard: null
      });
    });
});

describe('debugging page', function () {
  this.timeout(20000);
  let server: TestServer;

  before(async function () {
    server = await startServer();
  });

  after(async function () {
    await server?.stop();
  });

  it('is served to anyone, holding no data, on GET only', async function () {
    const response = await fetch(`${server.restUrl}/debug/`);
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-security-policy'))
      .to.contain("default-src 'self'");
    expect(await response.text()).to.contain('<form id="login">');
    const script = await fetch(`${server.restUrl}/debug/app.js`);
    expect(script.headers.get('content-type')).to.match(/^text\/javascript/);
    const put = await fetch(`${server.restUrl}/debug/`, { method: 'PUT' });
    expect(put.status).to.equal(405);
    const other = await fetch(`${server.restUrl}/debug/%2e%2e%2fpackage.json`);
    expect(other.status).to.equal(404);
  });

  it('logs in, draws the three machines and follows a job to done',
    async function () {
      await mkdir(dirname(SCREENSHOT), { recursive: true });
      const report = await drivePage({
        restUrl: server.restUrl,
        password: server.adminPassword,
        screenshot: SCREENSHOT
      });
      if ('skip' in report) {
        console.log(`      skipped: chromium cannot be launched: ${
          report.skip}`);
        this.skip();
      }
      const page = report as PageReport;
      expect(page.machines).to.deep.equal(['supervisor', 'queue', 'job']);
      expect(page.jobStates).to.include.members([
        'job.pending', 'job.running.command.terminating', 'job.done'
      ]);
      expect(page.supervisorState).to.equal('serving');
      expect(page.output).to.contain('hello');
      expect(JSON.parse(page.context)).to.include({
        id: 'seen', queue: 'pkg_queue', index: 0
      });
      expect(page.highlighted).to.equal(true);
      expect(page.history).to.deep.equal(
        ['pending', 'running.command.working', 'done']);
    });
});

/** Runs the page driver in its own process; see page-driver.ts. */
async function drivePage(
  options: Record<string, string>
): Promise<PageReport | { skip: string }> {
  const { stdout } = await run(process.execPath,
    [DRIVER, JSON.stringify(options)], { timeout: 18000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}
