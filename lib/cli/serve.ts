/**
 * `dispatcher serve`: runs the server until SIGINT or SIGTERM.
 */
import { defaults, withQueue, type ServerConfig } from '../config.js';
import { createLogger } from '../log.js';
import { DispatcherServer } from '../server.js';
import { securityConfig, type SecurityFlags } from './security-flags.js';

export interface ServeFlags extends SecurityFlags {
  host?: string;
  wsPort?: string;
  restPort?: string;
  dataDir?: string;
  grace?: string;
  queue?: string[];
  maxOutput?: string;
  logLevel?: string;
  onStop?: string;
  pauseAfterCrash?: boolean;
  outputCap?: string;
  keepDays?: string;
  keepJobs?: string;
}

/** Builds the server configuration from command-line flags. */
export function serveConfig(flags: ServeFlags): ServerConfig {
  let queues = [...defaults.queues];
  for (const spec of flags.queue ?? []) queues = withQueue(queues, spec);
  return {
    ...defaults,
    host: flags.host ?? defaults.host,
    wsPort: port(flags.wsPort, defaults.wsPort, '--ws-port'),
    restPort: port(flags.restPort, defaults.restPort, '--rest-port'),
    dataDir: flags.dataDir ?? process.env.DISPATCHER_DATA_DIR ??
      defaults.dataDir,
    graceMs: flags.grace === undefined
      ? defaults.graceMs
      : Math.round(number(flags.grace, '--grace') * 1000),
    maxOutputBytes: flags.maxOutput === undefined
      ? defaults.maxOutputBytes
      : number(flags.maxOutput, '--max-output'),
    queues,
    jobCwd: process.cwd(),
    ...securityConfig(flags),
    onStop: onStop(flags.onStop),
    pauseAfterCrash: flags.pauseAfterCrash ?? defaults.pauseAfterCrash,
    outputCapBytes: flags.outputCap === undefined
      ? defaults.outputCapBytes
      : number(flags.outputCap, '--output-cap'),
    retentionMaxAgeMs: flags.keepDays === undefined
      ? defaults.retentionMaxAgeMs
      : number(flags.keepDays, '--keep-days') * 24 * 60 * 60 * 1000,
    retentionMaxJobs: flags.keepJobs === undefined
      ? defaults.retentionMaxJobs
      : number(flags.keepJobs, '--keep-jobs')
  };
}

function onStop(text: string | undefined): 'kill' | 'wait' {
  if (text === undefined) return defaults.onStop;
  if (text !== 'kill' && text !== 'wait') {
    throw new Error(`--on-stop must be kill or wait, not '${text}'`);
  }
  return text;
}

function number(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`${flag} must be a non-negative number, not '${text}'`);
  }
  return value;
}

function port(text: string | undefined, fallback: number, flag: string) {
  if (text === undefined) return fallback;
  const value = number(text, flag);
  if (!Number.isInteger(value) || value > 65535) {
    throw new Error(`${flag} must be a port number 0-65535, not '${text}'`);
  }
  return value;
}

/** Starts the server and stops it cleanly on SIGINT or SIGTERM. */
export async function serve(flags: ServeFlags): Promise<void> {
  const config = serveConfig(flags);
  const log = createLogger(flags.logLevel ?? 'info');
  const server = new DispatcherServer(config, { log });
  try {
    await server.start();
  } catch (error) {
    // Nothing was left running: start() undoes what it did.
    process.stderr.write(`dispatcher: ${(error as Error).message}\n`);
    log.flush(() => process.exit(1));
    return;
  }
  if (server.adminPassword) {
    process.stderr.write(
      `\nCreated user 'admin' with password: ${server.adminPassword}\n` +
        `(also saved in ${config.dataDir}/admin-password, mode 0600; ` +
        'it is not shown again)\n\n'
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second signal: no more waiting for any job.
      log.warn({ signal }, 'stopping now: SIGKILL to every running job');
      server.forceKill();
      return;
    }
    stopping = true;
    log.info({ signal, onStop: config.onStop }, 'stopping');
    server.stop().then(
      () => log.flush(() => process.exit(0)),
      (error) => {
        log.error({ err: error }, 'stop failed');
        log.flush(() => process.exit(1));
      }
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // A closed terminal or a dropped SSH session: stop as cleanly as for
  // SIGTERM rather than die with jobs left running.
  process.on('SIGHUP', () => stop('SIGHUP'));
}
