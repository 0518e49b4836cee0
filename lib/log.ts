/**
 * Logging. The server logs JSON lines with pino; this is the one module
 * that turns the dispatcher's job events into log lines. Command output,
 * passwords and tokens are never logged.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

import type { Dispatcher, JobEvent } from './jobs/dispatcher.js';

export type { Logger } from 'pino';

/** Creates the server's logger. `level` defaults to `info`. */
export function createLogger(
  level = 'info',
  destination?: DestinationStream
): Logger {
  return pino(
    {
      name: 'dispatcher',
      level,
      redact: ['password', 'token', 'args.password', 'args.token']
    },
    destination ?? pino.destination({ dest: 1, sync: false })
  );
}

/** Logs one line per job start, kill signal and end. */
export function logJobs(dispatcher: Dispatcher, log: Logger): () => void {
  const listener = (event: JobEvent) => {
    if (event.type === 'queued') return;
    const base = { jobId: event.job.id, queue: event.job.queue };
    switch (event.type) {
      case 'started':
        log.info({ ...base, pid: pidOf(event) },
          'job started');
        break;
      case 'command':
        log.info({ ...base, pid: event.pid, index: event.index },
          'job command started');
        break;
      case 'signalled':
        log.info({ ...base, signal: event.signal, killedBy: event.by },
          'job signalled');
        break;
      case 'finished':
        log.info(
          {
            ...base,
            outcome: event.outcome,
            durationMs: event.durationMs,
            exitCodes: event.outcomes.map((o) => o.exitCode),
            signals: event.outcomes.map((o) => o.signal),
            errors: event.outcomes.map((o) => o.error).filter(Boolean),
            killedBy: event.killedBy
          },
          'job finished'
        );
        break;
    }
  };
  dispatcher.on('job', listener);
  return () => dispatcher.off('job', listener);
}

function pidOf(event: JobEvent & { type: 'started' }): number | null {
  const commands = event.log.commands as Array<{ pid: number | null }>;
  return commands[0]?.pid ?? null;
}
