import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { UserStore } from '../../lib/auth/users.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { cli } from './run-cli.js';

describe('command line connection and errors', function () {
  let server: TestServer;
  let dataDir: string;
  let configHome: string;
  let env: Record<string, string | undefined>;

  before(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'dispatcher-spec-'));
    const { store } = await UserStore.open(dataDir);
    await store.add('viewer', 'look-only', 'read');
    server = await startServer({ dataDir, jobCwd: dataDir });
    configHome = await mkdtemp(join(tmpdir(), 'dispatcher-config-'));
    await mkdir(join(configHome, 'dispatcher'));
    env = {
      DISPATCHER_URL: server.wsUrl,
      DISPATCHER_DATA_DIR: dataDir
    };
  });

  after(async function () {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(configHome, { recursive: true, force: true });
  });

  async function configure(config: Record<string, string>) {
    await writeFile(join(configHome, 'dispatcher', 'config.json'),
      JSON.stringify(config));
  }

  it('takes address and credentials from the config file',
    async function () {
      const secret = join(configHome, 'viewer-password');
      await writeFile(secret, 'look-only\n');
      await configure({ url: server.wsUrl, user: 'viewer',
        password_file: secret });
      const run = await cli(['list'], { XDG_CONFIG_HOME: configHome,
        DISPATCHER_URL: undefined, DISPATCHER_DATA_DIR: '/nonexistent' });
      expect(run.stderr).to.equal('');
      expect(run.stdout).to.equal('no pending or running jobs\n');
    });

  it('lets the environment override the config file', async function () {
    await configure({ url: server.wsUrl, user: 'viewer',
      password: 'look-only' });
    const run = await cli(['list'], { XDG_CONFIG_HOME: configHome,
      DISPATCHER_PASSWORD: 'wrong' });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/Unauthorized/);
  });

  it('says what to do when the connection is refused', async function () {
    const run = await cli(['list'], { ...env,
      DISPATCHER_URL: 'ws://127.0.0.1:1' });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/cannot reach the dispatcher .*refused/);
    expect(run.stderr).to.match(/Is the server running\? Start it with/);
  });

  it('says what to do on 401', async function () {
    const run = await cli(['list', '--user', 'viewer', '--password', 'no'],
      env);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/wrong username or password/);
    expect(run.stderr).to.match(/Check --user and --password/);
  });

  it('says what to do on 403', async function () {
    const run = await cli(['run', '--user', 'viewer', '--password',
      'look-only', 'nope', '--', 'true'], env);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/Forbidden/);
    expect(run.stderr).to.match(/Ask an administrator for a user with full/);
  });

  it('names the config file when no password is found', async function () {
    const run = await cli(['list'], { ...env, DISPATCHER_DATA_DIR: dataDir +
      '-missing', XDG_CONFIG_HOME: join(configHome, 'none') });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.include(join(configHome, 'none', 'dispatcher',
      'config.json'));
  });
});
