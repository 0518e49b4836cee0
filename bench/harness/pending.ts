/**
 * A server with a long queue: one long job runs in `pkg_queue` and
 * holds it, and N jobs wait behind it, queued by one `run` request.
 */
import type { Client } from '../../lib/client/client.js';
import { type Memory } from './processes.js';
import type { BenchContext } from './scenario.js';
import { BenchServer } from './server.js';
import { jobBatch, jobIds } from './watch.js';

/** The job that holds the queue; killed when the server stops. */
export const HOLD_COMMAND = 'sleep 600';

/**
 * Live jobs the server may hold, in all and per queue. Its default of
 * 100 000 would refuse 100 000 pending jobs behind the running one.
 */
const LIVE_JOB_LIMIT = '1000000';

/** A server whose `pkg_queue` holds `count` pending jobs. */
export interface PendingQueue {
  server: BenchServer;
  /** Logged in as admin; not subscribed to events. */
  client: Client;
  /** Ids of the pending jobs, in queue order. */
  ids: string[];
  /** From sending the `run` request to its reply, ms. */
  acceptMs: number;
  /** Before the pending jobs were sent (the long job running). */
  memoryBefore: Memory;
  /** Right after the reply. */
  memoryAfter: Memory;
  /** The `run` request's args, to replay against a baseline. */
  request: Record<string, unknown>;
  /** Stops the server, and with it the long job. */
  stop(): Promise<void>;
}

/**
 * Starts a server, starts the long job, then queues `count` jobs behind
 * it in one request. `stop()` stops it all.
 */
export async function pendingQueue(
  name: string,
  count: number,
  context: BenchContext
): Promise<PendingQueue> {
  const server = await BenchServer.start({
    name,
    flags: ['--max-live-jobs', LIVE_JOB_LIMIT,
      '--max-queue-jobs', LIVE_JOB_LIMIT],
    profileDir: context.profileDir,
    heapDir: context.heapDir
  });
  try {
    const client = await server.connect();
    await client.dispatcher({
      action: 'run',
      queue: 'pkg_queue',
      hold: HOLD_COMMAND
    });
    const memoryBefore = server.memory();
    const request = jobBatch('pkg_queue', 'q', count, 'true');

    const start = performance.now();
    const reply = await client.dispatcher(request);
    const acceptMs = performance.now() - start;
    const memoryAfter = server.memory();

    if (reply.started.length !== count) {
      throw new Error(`queued ${reply.started.length} of ${count} jobs`);
    }
    return {
      server,
      client,
      ids: jobIds('q', count),
      acceptMs,
      memoryBefore,
      memoryAfter,
      request,
      stop: () => server.stop()
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
