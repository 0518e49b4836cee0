/**
 * Drives the debugging page in a headless chromium, in a process of its
 * own: playwright-core alone adds about 100 MB to the process that loads
 * it, which would skew the memory specs sharing mocha's process.
 *
 * Argument: JSON `{ restUrl, password, screenshot }`. Prints one JSON
 * line: `{ skip: reason }` when chromium cannot be launched, otherwise
 * what the page showed (see `PageReport`). Exits 1 on any other fault.
 */
import { existsSync } from 'node:fs';

import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

/** What the driver saw on the page. */
export interface PageReport {
  machines: string[];
  jobStates: string[];
  supervisorState: string | null;
  context: string;
  output: string;
  highlighted: boolean;
  history: string[];
}

const { restUrl, password, screenshot } = JSON.parse(process.argv[2]);

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 10000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'
    ]
  });
}

async function drive(browser: Browser): Promise<PageReport> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(8000);
  await page.goto(`${restUrl}/debug/`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  for (const name of ['supervisor', 'queue', 'job']) {
    await page.waitForSelector(`[data-machine="${name}"] svg g.state`);
  }
  const machines = await page.$$eval('[data-machine]',
    (figures) => figures.map((figure) => figure.getAttribute('data-machine')!));
  const jobStates = await page.$$eval('[data-machine="job"] g.state',
    (groups) => groups.map((group) => group.getAttribute('data-state-id')!));
  const supervisor = '[data-actor="supervisor:supervisor"]';
  await page.waitForSelector(supervisor);
  const supervisorState = await page.getAttribute(supervisor, 'data-state');

  const reply = await fetch(`${restUrl}/rpc/dispatcher`, {
    method: 'PUT',
    headers: {
      Authorization: 'Basic ' +
        Buffer.from(`admin:${password}`).toString('base64'),
      'Content-Type': 'application/json'
    },
    body: JSON.stringify({
      action: 'run', queue: 'pkg_queue', seen: 'sh -c "echo hello; sleep 1"'
    })
  });
  if (!reply.ok) throw new Error(`run failed: ${await reply.text()}`);
  const row = '[data-actor="job:seen"]';
  await page.waitForSelector(`${row}[data-state^="running"]`);
  await page.click(row);
  await page.waitForSelector('#job-output:has-text("hello")');
  const context = (await page.textContent('#job-context')) ?? '';
  const output = (await page.textContent('#job-output')) ?? '';
  const highlighted = await page.isVisible(
    '[data-machine="job"] g.active[data-state-id="job.running"]');
  await page.screenshot({ path: screenshot, type: 'png' });
  await page.waitForSelector(`${row}[data-state="done"]`);
  const history = (await page.getAttribute(row, 'data-history')) ?? '';
  return {
    machines, jobStates, supervisorState, context, output, highlighted,
    history: history.split(' ')
  };
}

let browser: Browser;
try {
  browser = await launch();
} catch (error) {
  const reason = (error as Error).message.split('\n')[0];
  console.log(JSON.stringify({ skip: reason }));
  process.exit(0);
}
try {
  console.log(JSON.stringify(await drive(browser)));
} catch (error) {
  console.error((error as Error).stack);
  process.exitCode = 1;
} finally {
  await browser.close();
}
