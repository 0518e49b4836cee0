/**
 * The `dispatcher` command line: the server (`serve`), accounts
 * (`user add`) and the client commands (see client-program.ts).
 */
import { Command, Option } from 'commander';

import { UserStore, type Role } from '../auth/users.js';
import { ClientError } from '../client/client.js';
import { clientCommands } from './client-program.js';
import { configPath } from './connection.js';
import { securityOptions } from './security-flags.js';
import { serve } from './serve.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
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

/** The whole command line, ready to parse. */
export function program(): Command {
  const root = new Command('dispatcher')
    .description('Run command chains in named queues; control them over ' +
      'WebSocket and REST')
    .showHelpAfterError()
    .addHelpText('after', '\nExamples:\n' +
      '  dispatcher serve --queue builds=2\n' +
      '  dispatcher run --wait hello -- echo hello\n' +
      '  dispatcher list\n' +
      "  dispatcher <command> --help   # each command's flags and examples");

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
  user.addHelpText('after',
    "\nExample:\n  echo 's3cret' | dispatcher user add alice --role read");
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

  clientCommands(root);

  return root;
}

/** What to do next, for the errors people hit most. */
function advice(error: unknown): string {
  if (!(error instanceof ClientError)) {
    return error instanceof Error ? error.message : String(error);
  }
  if (/refused the connection/.test(error.message)) {
    return `${error.message}\nWait for a lockout to pass, or ask the ` +
      'administrator to allow this origin or host name (serve ' +
      '--allow-origin, --allow-host).';
  }
  if (error.code === 0 && /connection refused/.test(error.message)) {
    return `${error.message}\nIs the server running? Start it with ` +
      "'dispatcher serve' (or 'npm start'), or point --url at it " +
      `(or DISPATCHER_URL, or "url" in ${configPath()}).`;
  }
  if (error.code === 401) {
    return `${error.message}\nCheck --user and --password ` +
      '(or DISPATCHER_USER and DISPATCHER_PASSWORD, or "user" and ' +
      `"password" in ${configPath()}).`;
  }
  if (error.code === 403) {
    return `${error.message}\nAsk an administrator for a user with ` +
      "full access ('dispatcher user add NAME --role full'), then pass " +
      'it with --user.';
  }
  return error.message;
}

program().parseAsync(process.argv).catch((error: unknown) => {
  console.error(`dispatcher: ${advice(error)}`);
  process.exitCode = 1;
});
