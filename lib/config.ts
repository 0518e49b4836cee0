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
  jobCwd: process.cwd()
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
