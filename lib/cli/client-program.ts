/**
 * The client commands of the command line, their flags and the examples
 * their `--help` ends with.
 */
import type { Command } from 'commander';

import {
  killCommand,
  listCommand,
  pauseCommand
} from './client-commands.js';
import { configPath } from './connection.js';
import { historyCommand, logsCommand } from './history-commands.js';
import { runCommand } from './run-command.js';
import { watchCommand } from './watch-command.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}`;
}

/** Where the client commands look for the server and the password. */
export function connectionHelp(): string {
  return '\nConnection (first found wins): flags; DISPATCHER_URL, ' +
    'DISPATCHER_USER,\nDISPATCHER_PASSWORD; the config file ' +
    `${configPath()}\n(keys url, user, password or password_file); ` +
    'for admin, DATA_DIR/admin-password.';
}

function clientOptions(command: Command): Command {
  return command
    .option('--url <url>', 'server WebSocket address (env DISPATCHER_URL; ' +
      'default ws://127.0.0.1:12150)')
    .option('--user <name>', 'user name (env DISPATCHER_USER; default admin)')
    .option('--password <password>', 'password (env DISPATCHER_PASSWORD; ' +
      'default: DATA_DIR/admin-password for admin)')
    .option('--data-dir <dir>', 'where to find admin-password ' +
      '(env DISPATCHER_DATA_DIR; default ./data)')
    .option('--json', 'print replies as JSON, for scripts');
}

/** Adds run, list, kill, logs, history, pause, resume and watch. */
export function clientCommands(root: Command): void {
  clientOptions(root.command('run <id> [command...]'))
    .description('queue a job; the words after -- are one command, run ' +
      'without a shell')
    .option('--queue <name>', 'queue to use (default no_queue, or the ' +
      "file's)")
    .option('-c, --command <command>', 'add a command to the chain ' +
      '(repeatable)', collect)
    .option('-f, --file <chain>', 'take the chain from a JSON or YAML ' +
      'file: a list of commands, or {queue, commands}')
    .option('-w, --wait', "stream the job's output and exit with its " +
      'exit status (128+N for signal N)')
    .addHelpText('after', examples(
      'dispatcher run --queue pkg_queue upgrade -- pkg upgrade -y',
      "dispatcher run build -c 'make' -c 'make install'",
      'dispatcher run deploy --file deploy.yaml --wait',
      "dispatcher run check --wait -- sh -c 'make test' && echo passed"))
    .action((id: string, words: string[], flags) =>
      runCommand(id, words, flags));

  clientOptions(root.command('list'))
    .description('list pending and running jobs, with CPU and memory of ' +
      'running ones')
    .option('--queue <name>', 'only this queue')
    .addHelpText('after', examples('dispatcher list',
      'dispatcher list --queue pkg_queue',
      "dispatcher list --json | jq '.jobs[][] | .pid'"))
    .action((flags) => listCommand(flags));

  clientOptions(root.command('kill <id...>'))
    .description('kill jobs: pending ones never start, running ones get ' +
      'SIGTERM, then SIGKILL after the grace period')
    .option('--grace <seconds>', 'grace period for this kill')
    .addHelpText('after', examples('dispatcher kill upgrade',
      'dispatcher kill --grace 0 fetch upgrade'))
    .action(async (ids: string[], flags) => {
      if (!(await killCommand(ids, flags))) process.exitCode = 1;
    });

  clientOptions(root.command('logs <id>'))
    .description("print a job's output, command after command; exit 1 if " +
      'it did not succeed')
    .option('-f, --follow', 'keep printing while the job runs')
    .addHelpText('after', examples('dispatcher logs upgrade --follow',
      'dispatcher logs upgrade --json'))
    .action((id: string, flags) => logsCommand(id, flags));

  clientOptions(root.command('history'))
    .description('list finished jobs, the last to finish first')
    .option('--limit <count>', 'how many', '20')
    .addHelpText('after', examples('dispatcher history --limit 5',
      "dispatcher history --json | jq '.[].outcome'"))
    .action((flags) => historyCommand(flags));

  clientOptions(root.command('pause <queue>'))
    .description('stop a queue from starting jobs (running ones go on)')
    .addHelpText('after', examples('dispatcher pause pkg_queue'))
    .action((queue: string, flags) => pauseCommand(queue, true, flags));

  clientOptions(root.command('resume <queue>'))
    .description('let a paused queue start jobs again')
    .addHelpText('after', examples('dispatcher resume pkg_queue'))
    .action((queue: string, flags) => pauseCommand(queue, false, flags));

  clientOptions(root.command('watch'))
    .description('show jobs live on a terminal; elsewhere (or with ' +
      '--lines) print one line per event')
    .option('--lines', 'one line per event even on a terminal')
    .addHelpText('after', examples('dispatcher watch',
      'dispatcher watch --lines | tee events.log',
      'dispatcher watch --json   # one JSON event per line'))
    .action((flags) => watchCommand(flags));

  for (const command of root.commands) {
    if (command.name() !== 'serve' && command.name() !== 'user') {
      command.addHelpText('after', connectionHelp());
    }
  }
}
