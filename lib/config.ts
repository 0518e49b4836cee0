/**
 * Server settings and their defaults. Every limit and period the server
 * uses is named here, with its unit.
 */
import type { QueueConfig } from '../machines/supervisor.js';

export interface ServerConfig {
  /** Address both listeners bind to. Default 127.0.0.1. */
  host: string;
  /** WebSocket port; 0 picks a free one. Default 12150. */
  wsPort: number;
  /** REST port; 0 picks a free one. Default 12151. */
  restPort: number;
  /** Where the users file and the admin password live. */
  dataDir: string;
  /** Queues and how many jobs each runs at once. */
  queues: QueueConfig[];
  /** SIGTERM to SIGKILL grace period for kills, milliseconds. */
  graceMs: number;
  /** Output kept in memory per command, bytes. Default 1 MiB. */
  maxOutputBytes: number;
  /** Session tokens expire after this long unused, milliseconds. */
  tokenIdleMs: number;
  /** Finished job ids remembered for kill replies. */
  recentJobs: number;
  /** Shortest gap between two output events of one job, ms. */
  outputIntervalMs: number;
  /** Working directory for jobs. Default: the server's. */
  jobCwd: string;

  // Transport security; see docs/security.md.

  /** PEM certificate file; with `tlsKey`, serves wss:// and https://. */
  tlsCert: string | null;
  /** PEM private key file of `tlsCert`. */
  tlsKey: string | null;
  /**
   * Lets the server listen on a non-loopback address without TLS.
   * Passwords and tokens then cross the network in the clear. Default off.
   */
  allowPlaintextNetwork: boolean;
  /**
   * Origins (`scheme://host[:port]`) whose browser pages may call the
   * server. Requests with any other `Origin` are refused. Default none.
   */
  allowedOrigins: string[];
  /**
   * Host names the server answers to, besides its own addresses,
   * `localhost` and the machine's hostname. Default none.
   */
  allowedHosts: string[];

  // Logins and sessions.

  /** Failed logins from one address that start a lockout. Default 5. */
  loginFailureLimit: number;
  /** Window in which failed logins are counted, ms. Default 60 000. */
  loginFailureWindowMs: number;
  /** How long a locked-out address is refused, ms. Default 300 000. */
  lockoutMs: number;
  /** Longest a token lives however much it is used, ms. Default 12 h. */
  tokenMaxLifeMs: number;
  /** A WebSocket not logged in by then is closed, ms. Default 30 000. */
  loginDeadlineMs: number;
  /**
   * A WebSocket that sends no request for this long, and is not
   * subscribed to events, is closed, ms. Default 30 min.
   */
  idleTimeoutMs: number;
  /** Gap between pings; a peer silent for one gap is dropped, ms. */
  heartbeatMs: number;
  /** Longest a REST request may take to arrive, ms. Default 30 000. */
  requestTimeoutMs: number;

  // Limits on what clients may send or hold.

  /** Largest WebSocket message, after inflation, bytes. Default 16 MiB. */
  maxMessageBytes: number;
  /** Largest REST body, bytes. Default 16 MiB. */
  maxBodyBytes: number;
  /** Whether WebSocket messages may be compressed. Default off. */
  wsCompression: boolean;
  /** Open connections from one address, both ports. Default 64. */
  maxConnectionsPerAddress: number;
  /** Open connections in all, both ports. Default 1024. */
  maxConnections: number;
  /**
   * Unsent event data, not counting the message being sent, after which
   * a subscriber is dropped, bytes. Default 8 MiB.
   */
  maxUnsentBytes: number;
  /** Pending and running jobs in all queues. Default 250 000. */
  maxLiveJobs: number;
  /**
   * Pending and running jobs in any one queue. Default 200 000; lower
   * it to keep one queue from taking all.
   */
  maxLiveJobsPerQueue: number;
  /** Longest job id, characters. Default 256. */
  maxJobIdLength: number;
  /** Most commands in one job's chain. Default 100. */
  maxChainLength: number;
  /** Longest command string, characters. Default 65 536. */
  maxCommandLength: number;
  /** Most words (program and arguments) in one command. Default 1 024. */
  maxArguments: number;

  // What jobs run as.

  /** User every job runs as; null: the server's own. Default null. */
  runAs: string | null;
  /** Users for particular queues, overriding `runAs`. */
  queueRunAs: Record<string, string>;
  /**
   * Variables added to every job's environment: `NAME=VALUE` sets one,
   * a bare `NAME` copies it from the server's environment.
   */
  jobEnv: string[];
  /** Output written to disk per job, over all commands, bytes. */
  outputCapBytes: number;
  /** Finished jobs older than this are deleted, ms. Default 30 days. */
  retentionMaxAgeMs: number;
  /** At most this many finished jobs are kept. Default 10 000. */
  retentionMaxJobs: number;
  /** On SIGTERM or SIGINT: kill running jobs, or wait for them. */
  onStop: 'kill' | 'wait';
  /** After a crash, leave queues with requeued jobs paused. */
  pauseAfterCrash: boolean;
  /** Events kept for subscribers that resume, count. */
  eventBacklog: number;
  /** Events kept for subscribers that resume, bytes in all. */
  eventBacklogBytes: number;

  // Monitoring; see docs/metrics.md.

  /** Gap between CPU and memory samples of running jobs, ms. Default 2000. */
  usageIntervalMs: number;
  /**
   * Who may read `/metrics`: `loopback` (anyone when the server listens
   * on a loopback address, else a `read` login), `open` (anyone) or
   * `login` (a `read` login always). Default `loopback`.
   */
  metricsAccess: 'loopback' | 'open' | 'login';
}

/** The queues every server has; more can be configured. */
export const defaultQueues: readonly QueueConfig[] = [
  { name: 'no_queue', concurrency: Infinity },
  { name: 'pkg_queue', concurrency: 1 },
  { name: 'iocage_queue', concurrency: 1 }
];

export const defaults: ServerConfig = {
  host: '127.0.0.1',
  wsPort: 12150,
  restPort: 12151,
  dataDir: 'data',
  queues: [...defaultQueues],
  graceMs: 5000,
  maxOutputBytes: 1024 * 1024,
  tokenIdleMs: 15 * 60 * 1000,
  recentJobs: 10000,
  outputIntervalMs: 250,
  jobCwd: process.cwd(),
  tlsCert: null,
  tlsKey: null,
  allowPlaintextNetwork: false,
  allowedOrigins: [],
  allowedHosts: [],
  loginFailureLimit: 5,
  loginFailureWindowMs: 60 * 1000,
  lockoutMs: 5 * 60 * 1000,
  tokenMaxLifeMs: 12 * 60 * 60 * 1000,
  loginDeadlineMs: 30 * 1000,
  idleTimeoutMs: 30 * 60 * 1000,
  heartbeatMs: 30 * 1000,
  requestTimeoutMs: 30 * 1000,
  maxMessageBytes: 16 * 1024 * 1024,
  maxBodyBytes: 16 * 1024 * 1024,
  wsCompression: false,
  maxConnectionsPerAddress: 64,
  maxConnections: 1024,
  maxUnsentBytes: 8 * 1024 * 1024,
  maxLiveJobs: 250000,
  maxLiveJobsPerQueue: 200000,
  maxJobIdLength: 256,
  maxChainLength: 100,
  maxCommandLength: 64 * 1024,
  maxArguments: 1024,
  runAs: null,
  queueRunAs: {},
  jobEnv: [],
  outputCapBytes: 64 * 1024 * 1024,
  retentionMaxAgeMs: 30 * 24 * 60 * 60 * 1000,
  retentionMaxJobs: 10000,
  onStop: 'kill',
  pauseAfterCrash: false,
  eventBacklog: 10000,
  eventBacklogBytes: 8 * 1024 * 1024,
  usageIntervalMs: 2000,
  metricsAccess: 'loopback'
};

/**
 * Parses a queue setting such as `builds=4` or `ports=unlimited` and
 * returns the default queues with it added or replaced.
 */
export function withQueue(
  queues: readonly QueueConfig[],
  spec: string
): QueueConfig[] {
  const match = /^([A-Za-z0-9_.-]{1,64})=(\d+|unlimited)$/.exec(spec);
  if (!match) {
    throw new Error(
      `bad queue setting '${spec}': expected NAME=LIMIT, ` +
        'for example builds=2 or ports=unlimited'
    );
  }
  const [, name, limit] = match;
  const concurrency = limit === 'unlimited' ? Infinity : Number(limit);
  if (concurrency < 1) {
    throw new Error(`bad queue setting '${spec}': limit must be at least 1`);
  }
  return [
    ...queues.filter((queue) => queue.name !== name),
    { name, concurrency }
  ];
}
