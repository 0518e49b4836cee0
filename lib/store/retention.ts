/**
 * Retention: finished jobs older than a maximum age, or beyond a maximum
 * count (the newest are kept), are deleted with their output files.
 * Runs at start and then every `intervalMs`.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import type { Logger } from '../log.js';
import type { OutputFiles } from './output-files.js';
import type { JobStore } from './store.js';

export interface RetentionOptions {
  /** Finished jobs older than this are deleted, ms. Default 30 days. */
  maxAgeMs: number;
  /** At most this many finished jobs are kept. Default 10 000. */
  maxJobs: number;
  /** How often to prune, ms. Default one hour. */
  intervalMs: number;
}

/** Deletes what is past the limits now; resolves with the job count. */
export async function prune(
  store: JobStore,
  files: OutputFiles,
  options: Pick<RetentionOptions, 'maxAgeMs' | 'maxJobs'>,
  now = Date.now()
): Promise<number> {
  const keys = new Set(store.prune(now - options.maxAgeMs, options.maxJobs));
  if (keys.size === 0) return 0;
  for (const name of await readdir(files.directory)) {
    const key = Number(name.slice(0, name.indexOf('-')));
    if (keys.has(key)) await rm(join(files.directory, name), { force: true });
  }
  return keys.size;
}

/** Prunes now and on a timer that does not keep the process alive. */
export function schedulePruning(
  store: JobStore,
  files: OutputFiles,
  options: RetentionOptions,
  log: Logger
): () => void {
  const run = () => {
    prune(store, files, options).then(
      (count) => count && log.info({ count }, 'old jobs deleted'),
      (error) => log.error({ err: error }, 'pruning old jobs failed')
    );
  };
  run();
  const timer = setInterval(run, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
