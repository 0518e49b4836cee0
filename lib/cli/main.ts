/**
 * The `dispatcher` command line: the server (`serve`), accounts
 * (`user add`) and a client (`run`, `list`, `kill`, `watch`).
 */
import { Command, Option } from 'commander';

import { UserStore, type Role } from '../auth/users.js';
import { ClientError } from '../client/client.js';
import {
  killCommand,
  listCommand,
  pauseCommand,
  runCommand,
  watchCommand
} from './client-commands.js';
import { historyCommand, logsCommand } from './history-commands.js';
import { securityOptions } from './security-flags.js';
import { serve } from './serve.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function clientOptions(command: Command): Command {
  return command
    .option('--url <url>', 'server WebSocket address (env DISPATCHER_URL)',
      undefined)
    .option('--user <name>', 'user name (env DISPATCHER_USER; default admin)')
    .option('--password <password>', 'password (env DISPATCHER_PASSWORD; ' +
      'default: DATA_DIR/admin-password for admin)')
    .option('--data-dir <dir>', 'where to find admin-password ' +
      '(env DISPATCHER_DATA_DIR; default ./data)')
    .option('--json', 'print replies as JSON');
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Password (then Enter): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (process.stdin.isTTY && chunk.includes(10)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}

export function program(): Command {
  const root = new Command('dispatcher')
    .description('Run command chains in named queues; control them over ' +
      'WebSocket and REST')
    .showHelpAfterError();

  securityOptions(root.command('serve')
    .description('run the server (Ctrl-C or SIGTERM stops it, killing ' +
      'running jobs)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--ws-port <port>', 'WebSocket port', '12150')
    .option('--rest-port <port>', 'REST port', '12151')
    .option('--data-dir <dir>', 'users file and admin password ' +
      '(env DISPATCHER_DATA_DIR; default ./data)')
    .option('--grace <seconds>', 'SIGTERM to SIGKILL grace period', '5')
    .option('--queue <name=limit>', 'add or change a queue, e.g. ' +
      'builds=2 or ports=unlimited (repeatable)', collect)
    .option('--max-output <bytes>', 'output kept in memory per command',
      String(1024 * 1024))
    .addOption(new Option('--log-level <level>', 'how much to log')
      .choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .addOption(new Option('--on-stop <mode>', 'on SIGTERM/SIGINT, kill ' +
      'running jobs or wait for them (a second signal kills at once)')
      .choices(['kill', 'wait']).default('kill'))
    .option('--pause-after-crash', 'after a crash, leave queues that get ' +
      'pending jobs back paused until resumed')
    .option('--output-cap <bytes>', 'output kept on disk per job',
      String(64 * 1024 * 1024))
    .option('--keep-days <days>', 'delete finished jobs older than this',
      '30')
    .option('--keep-jobs <count>', 'keep at most this many finished jobs',
      '10000')
    .addHelpText('after', '\nExample:\n  dispatcher serve --queue builds=2'))
    .action(serve);

  const user = root.command('user').description('manage accounts');
  user.command('add <name>')
    .description('add a user, or change one; the password is read from ' +
      'standard input')
    .addOption(new Option('--role <role>', 'full may run and kill; read ' +
      'may list and watch').choices(['full', 'read']).makeOptionMandatory())
    .option('--data-dir <dir>', 'data directory (default ./data)')
    .addHelpText('after',
      "\nExample:\n  echo 's3cret' | dispatcher user add alice --role read")
    .action(async (name: string, flags: { role: Role; dataDir?: string }) => {
      const dataDir = flags.dataDir ?? process.env.DISPATCHER_DATA_DIR ??
        'data';
      const password = await readPassword();
      const { store } = await UserStore.open(dataDir);
      await store.add(name, password, flags.role);
      console.log(`user '${name}' (${flags.role}) saved in ${store.path}; ` +
        'a running server reads it at start: restart it');
    });

  clientOptions(root.command('run <id> [command...]'))
    .description('queue a job; the words after -- are one command, run ' +
      'without a shell')
    .option('--queue <name>', 'queue to use (default no_queue)')
    .option('-c, --command <command>', 'add a command to the chain ' +
      '(repeatable)', collect)
    .addHelpText('after', '\nExamples:\n' +
      '  dispatcher run --queue pkg_queue upgrade -- pkg upgrade -y\n' +
      "  dispatcher run build -c 'make' -c 'make install'")
    .action((id: string, words: string[], flags) =>
      runCommand(id, words, flags));

  clientOptions(root.command('list'))
    .description('list pending and running jobs')
    .option('--queue <name>', 'only this queue')
    .action((flags) => listCommand(flags));

  clientOptions(root.command('kill <id...>'))
    .description('kill jobs: pending ones never start, running ones get ' +
      'SIGTERM, then SIGKILL after the grace period')
    .option('--grace <seconds>', 'grace period for this kill')
    .action(async (ids: string[], flags) => {
      if (!(await killCommand(ids, flags))) process.exitCode = 1;
    });

  clientOptions(root.command('logs <id>'))
    .description("print a job's output, command after command")
    .option('-f, --follow', 'keep printing while the job runs')
    .addHelpText('after', '\nExample:\n  dispatcher logs upgrade --follow')
    .action((id: string, flags) => logsCommand(id, flags));

  clientOptions(root.command('history'))
    .description('list finished jobs, newest first')
    .option('--limit <count>', 'how many', '20')
    .action((flags) => historyCommand(flags));

  clientOptions(root.command('pause <queue>'))
    .description('stop a queue from starting jobs (running ones go on)')
    .action((queue: string, flags) => pauseCommand(queue, true, flags));

  clientOptions(root.command('resume <queue>'))
    .description('let a paused queue start jobs again')
    .action((queue: string, flags) => pauseCommand(queue, false, flags));

  clientOptions(root.command('watch'))
    .description('print dispatcher events as they happen')
    .action((flags) => watchCommand(flags));

  return root;
}

/** What to do next, for the errors people hit most. */
function advice(error: unknown): string {
  if (error instanceof ClientError && /refused the connection/.test(
    error.message)) {
    return error.message;
  }
  if (error instanceof ClientError) {
    if (error.code === 0 && /connection refused/.test(error.message)) {
      return `${error.message}\nIs the server running? Start it with ` +
        "'dispatcher serve' (or 'npm start'), or point --url at it.";
    }
    if (error.code === 401) {
      return `${error.message}\nCheck --user and --password ` +
        '(or DISPATCHER_USER and DISPATCHER_PASSWORD).';
    }
    if (error.code === 403) {
      return `${error.message}\nAsk an administrator for a user with ` +
        'full access.';
    }
  }
  return error instanceof Error ? error.message : String(error);
}

program().parseAsync(process.argv).catch((error: unknown) => {
  console.error(`dispatcher: ${advice(error)}`);
  process.exitCode = 1;
});
