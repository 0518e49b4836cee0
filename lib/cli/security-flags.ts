/**
 * The `serve` flags for TLS, browser checks, logins, limits and the
 * user jobs run as. Each maps to one `ServerConfig` setting; defaults
 * come from `defaults` so the help and the server agree.
 */
import type { Command } from 'commander';

import { defaults, type ServerConfig } from '../config.js';
import { PLAINTEXT_FLAG } from '../security/tls.js';

export interface SecurityFlags {
  tlsCert?: string;
  tlsKey?: string;
  insecurePlaintextOnNetwork?: boolean;
  allowOrigin?: string[];
  allowHost?: string[];
  loginFailures?: string;
  loginWindow?: string;
  lockout?: string;
  tokenIdle?: string;
  tokenMaxLife?: string;
  loginDeadline?: string;
  idleTimeout?: string;
  heartbeat?: string;
  requestTimeout?: string;
  maxMessage?: string;
  maxBody?: string;
  wsCompression?: boolean;
  maxConnectionsPerAddress?: string;
  maxConnections?: string;
  maxUnsent?: string;
  maxLiveJobs?: string;
  maxQueueJobs?: string;
  maxJobId?: string;
  maxChain?: string;
  maxCommand?: string;
  maxArgs?: string;
  runAs?: string;
  queueRunAs?: string[];
  jobEnv?: string[];
  usageInterval?: string;
  metricsAccess?: string;
}

type Settings = Partial<ServerConfig>;

/** A whole-number flag: its config key, unit and meaning. */
interface CountFlag {
  flag: string;
  key: keyof SecurityFlags;
  setting: keyof ServerConfig;
  /** `s`: given in seconds, kept in ms; `n`: a count or bytes. */
  unit: 's' | 'n';
  /** Smallest value allowed. */
  least: number;
  help: string;
}

const counts: CountFlag[] = [
  { flag: '--login-failures <count>', key: 'loginFailures',
    setting: 'loginFailureLimit', unit: 'n', least: 1,
    help: 'failed logins from one address that lock it out' },
  { flag: '--login-window <seconds>', key: 'loginWindow',
    setting: 'loginFailureWindowMs', unit: 's', least: 1,
    help: 'window in which failed logins are counted' },
  { flag: '--lockout <seconds>', key: 'lockout', setting: 'lockoutMs',
    unit: 's', least: 0, help: 'how long a locked-out address is refused' },
  { flag: '--token-idle <seconds>', key: 'tokenIdle',
    setting: 'tokenIdleMs', unit: 's', least: 1,
    help: 'a token expires after this long unused' },
  { flag: '--token-max-life <seconds>', key: 'tokenMaxLife',
    setting: 'tokenMaxLifeMs', unit: 's', least: 1,
    help: 'a token expires this long after login, used or not' },
  { flag: '--login-deadline <seconds>', key: 'loginDeadline',
    setting: 'loginDeadlineMs', unit: 's', least: 1,
    help: 'a WebSocket not logged in by then is closed' },
  { flag: '--idle-timeout <seconds>', key: 'idleTimeout',
    setting: 'idleTimeoutMs', unit: 's', least: 1,
    help: 'a WebSocket sending no request this long is closed, ' +
      'unless subscribed to events' },
  { flag: '--heartbeat <seconds>', key: 'heartbeat', setting: 'heartbeatMs',
    unit: 's', least: 1,
    help: 'ping interval; a peer that misses a ping is dropped' },
  { flag: '--request-timeout <seconds>', key: 'requestTimeout',
    setting: 'requestTimeoutMs', unit: 's', least: 1,
    help: 'longest a request may take to arrive' },
  { flag: '--max-message <bytes>', key: 'maxMessage',
    setting: 'maxMessageBytes', unit: 'n', least: 1024,
    help: 'largest WebSocket message, after inflation (close 1009)' },
  { flag: '--max-body <bytes>', key: 'maxBody', setting: 'maxBodyBytes',
    unit: 'n', least: 1024, help: 'largest REST body (413)' },
  { flag: '--max-connections-per-address <count>',
    key: 'maxConnectionsPerAddress', setting: 'maxConnectionsPerAddress',
    unit: 'n', least: 1, help: 'open connections from one address' },
  { flag: '--max-connections <count>', key: 'maxConnections',
    setting: 'maxConnections', unit: 'n', least: 1,
    help: 'open connections in all' },
  { flag: '--max-unsent <bytes>', key: 'maxUnsent',
    setting: 'maxUnsentBytes', unit: 'n', least: 1024,
    help: 'unsent event data after which a subscriber is dropped' },
  { flag: '--max-live-jobs <count>', key: 'maxLiveJobs',
    setting: 'maxLiveJobs', unit: 'n', least: 1,
    help: 'pending and running jobs in all queues' },
  { flag: '--max-queue-jobs <count>', key: 'maxQueueJobs',
    setting: 'maxLiveJobsPerQueue', unit: 'n', least: 1,
    help: 'pending and running jobs in any one queue' },
  { flag: '--max-job-id <characters>', key: 'maxJobId',
    setting: 'maxJobIdLength', unit: 'n', least: 1,
    help: 'longest job id' },
  { flag: '--max-chain <count>', key: 'maxChain', setting: 'maxChainLength',
    unit: 'n', least: 1, help: 'most commands in one job' },
  { flag: '--max-command <characters>', key: 'maxCommand',
    setting: 'maxCommandLength', unit: 'n', least: 1,
    help: 'longest command string' },
  { flag: '--max-args <count>', key: 'maxArgs', setting: 'maxArguments',
    unit: 'n', least: 1, help: 'most words in one command' }
];

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds the flags to the `serve` command. */
export function securityOptions(command: Command): Command {
  command
    .option('--tls-cert <file>', 'PEM certificate: serve wss:// and https://')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option(PLAINTEXT_FLAG, 'allow a non-loopback --host without TLS ' +
      '(passwords and tokens cross the network in the clear)')
    .option('--allow-origin <origin>', 'let browser pages of this origin ' +
      'call the server, e.g. https://ops.example.org (repeatable)', collect)
    .option('--allow-host <name>', 'another name the server answers to ' +
      '(repeatable)', collect);
  for (const count of counts) {
    const fallback = defaults[count.setting] as number;
    const shown = count.unit === 's' ? fallback / 1000 : fallback;
    command.option(count.flag, count.help, String(shown));
  }
  return command
    .option('--ws-compression', 'accept and send compressed WebSocket ' +
      'messages (costs memory per connection)')
    .option('--run-as <user>', 'run jobs as this user (server must be root)')
    .option('--queue-run-as <queue=user>', 'run one queue\'s jobs as this ' +
      'user (repeatable)', collect)
    .option('--job-env <NAME[=VALUE]>', 'add a variable to jobs\' ' +
      'environment; a bare NAME copies the server\'s (repeatable)', collect)
    .option('--usage-interval <seconds>', 'gap between CPU and memory ' +
      'samples of running jobs', String(defaults.usageIntervalMs / 1000))
    .option('--metrics-access <who>', 'who may read /metrics: loopback ' +
      '(anyone if --host is loopback, else a login), open, or login',
      defaults.metricsAccess);
}

/** The settings the flags give. */
export function securityConfig(flags: SecurityFlags): Settings {
  const settings: Record<string, unknown> = {
    tlsCert: flags.tlsCert ?? defaults.tlsCert,
    tlsKey: flags.tlsKey ?? defaults.tlsKey,
    allowPlaintextNetwork: flags.insecurePlaintextOnNetwork ?? false,
    allowedOrigins: flags.allowOrigin ?? [],
    allowedHosts: flags.allowHost ?? [],
    wsCompression: flags.wsCompression ?? false,
    runAs: flags.runAs ?? null,
    queueRunAs: queueUsers(flags.queueRunAs ?? []),
    jobEnv: flags.jobEnv ?? [],
    ...monitorConfig(flags)
  };
  for (const count of counts) {
    const text = flags[count.key] as string | undefined;
    if (text === undefined) continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value < count.least) {
      const name = count.flag.split(' ')[0];
      throw new Error(
        `${name} must be a whole number of at least ${count.least}, ` +
          `not '${text}'`
      );
    }
    settings[count.setting] = count.unit === 's' ? value * 1000 : value;
  }
  return settings as Settings;
}

/** `--usage-interval` and `--metrics-access`. */
function monitorConfig(flags: SecurityFlags): Settings {
  const settings: Settings = {};
  if (flags.usageInterval !== undefined) {
    const seconds = Number(flags.usageInterval);
    if (!Number.isFinite(seconds) || seconds < 0.1) {
      throw new Error('--usage-interval must be a number of seconds of ' +
        `at least 0.1, not '${flags.usageInterval}'`);
    }
    settings.usageIntervalMs = Math.round(seconds * 1000);
  }
  const access = flags.metricsAccess;
  if (access !== undefined) {
    if (access !== 'loopback' && access !== 'open' && access !== 'login') {
      throw new Error('--metrics-access must be loopback, open or login, ' +
        `not '${access}'`);
    }
    settings.metricsAccess = access;
  }
  return settings;
}

function queueUsers(specs: string[]): Record<string, string> {
  const users: Record<string, string> = Object.create(null);
  for (const spec of specs) {
    const match = /^([A-Za-z0-9_.-]{1,64})=(.+)$/.exec(spec);
    if (!match) {
      throw new Error(
        `bad --queue-run-as '${spec}': expected QUEUE=USER, ` +
          'for example pkg_queue=pkg'
      );
    }
    users[match[1]] = match[2];
  }
  return users;
}
