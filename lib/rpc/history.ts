/**
 * Requests about what ran: one job's log and output (`get`), finished
 * jobs for `list`, the stored logs (`read_logs`), and pausing queues.
 */
import { z } from 'zod';

import { isoTime, jobLog } from '../jobs/job-log.js';
import type { StoredJob } from '../store/store.js';
import { RpcError } from './errors.js';
import type { Reply, Services } from './handlers.js';
import { parse } from './schemas.js';

/** Largest output page one `get` returns, bytes. */
export const MAX_PAGE_BYTES = 16 * 1024 * 1024;
/** Output page size when `length` is not given, bytes. */
export const DEFAULT_PAGE_BYTES = 1024 * 1024;
/** Most lines one `read_logs` returns per log. */
export const MAX_LOG_LINES = 10000;

const count = (what: string) =>
  z.number({ error: `must be a number of ${what}` })
    .int(`must be a whole number of ${what}`)
    .min(0, 'must not be negative');

const getSchema = z.object({
  job_id: z.string({ error: 'must be a job id' }),
  command: count('commands').optional(),
  offset: count('bytes').optional(),
  length: count('bytes').max(MAX_PAGE_BYTES,
    `must be at most ${MAX_PAGE_BYTES} bytes`).optional()
});

/** The log of a stored job, with command outcomes from the store. */
function storedLog(job: StoredJob, services: Services) {
  const commands = services.store.commands(job.key);
  const log = jobLog({
    job: {
      id: job.id, queue: job.queue, commands: job.commands,
      submittedAt: job.submittedAt, submittedBy: job.submittedBy
    },
    state: job.state,
    index: Math.max(0, commands.length - 1),
    pid: null,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    outcomes: commands,
    outputs: commands.map((command) => ({
      text: '', totalBytes: command.outputBytes, omittedBytes: 0
    })),
    kill: job.kill,
    outcome: job.outcome
  });
  log.submitted_from = job.submittedFrom;
  log.output_truncated = job.outputTruncated;
  return log;
}

/** `get`: a job's log, and a page of one command's output. */
export async function getJob(
  args: Record<string, unknown>,
  services: Services
): Promise<Reply> {
  const request = parse(getSchema, args, 'args');
  const id = request.job_id;
  const stored = services.store.latest(id);
  const running = services.dispatcher.runningLog(id);
  if (!stored && !running) {
    throw new RpcError('not_found', `no job '${id}' is live or kept`);
  }
  const key = services.recorder.keyOf(id) ?? stored!.key;
  const job = running ?? storedLog(stored!, services);
  if (request.command === undefined) return { args: { job } };
  const commands = (job.cmd_list as string[]).length;
  if (request.command >= commands) {
    throw new RpcError('bad_request',
      `args.command must be below ${commands}, the number of commands`);
  }
  const page = await services.files.read(
    key, request.command, request.offset ?? 0,
    request.length ?? DEFAULT_PAGE_BYTES
  );
  const output = page
    ? {
        command: request.command,
        offset: page.offset,
        bytes: page.bytes,
        next_offset: page.offset + page.bytes,
        total_bytes: page.totalBytes,
        eof: page.eof,
        text: page.text
      }
    : { command: request.command, offset: 0, bytes: 0, next_offset: 0,
        total_bytes: 0, eof: true, text: '' };
  return { args: { job, output } };
}

const finishedSchema = z.object({
  finished: z.boolean({ error: 'must be true or false' }).optional(),
  finished_limit: count('jobs').min(1, 'must be at least 1')
    .max(1000, 'must be at most 1000').optional(),
  finished_before: z.string({ error: 'must be a cursor from finished_next' })
    .regex(/^\d+(\.\d+)?:\d+$/, 'must be a cursor from finished_next')
    .optional()
}).loose();

/**
 * Finished jobs for `list`, last to finish first, when asked with
 * `finished: true`; `finished_next` pages on.
 */
export function finishedJobs(
  args: Record<string, unknown>,
  services: Services
): Record<string, unknown> {
  const request = parse(finishedSchema, args, 'args');
  if (!request.finished) return {};
  const limit = request.finished_limit ?? 100;
  const cursor = request.finished_before?.split(':').map(Number);
  const before = cursor && { finishedAt: cursor[0], key: cursor[1] };
  const jobs = services.store.finished(limit + 1, before);
  const page = jobs.slice(0, limit);
  return {
    finished: page.map((job) => storedLog(job, services)),
    finished_next: jobs.length > limit
      ? `${page.at(-1)!.finishedAt}:${page.at(-1)!.key}`
      : null
  };
}

const queueSchema = z.object({
  queue: z.string({ error: 'must be a queue name' })
}).loose();

/** `pause` and `resume`: stop or restart a queue's admissions. */
export function pauseQueue(
  args: Record<string, unknown>,
  services: Services,
  pause: boolean
): Reply {
  const { queue } = parse(queueSchema, args, 'args');
  const { dispatcher } = services;
  const names = dispatcher.queues.map((config) => config.name);
  if (!names.includes(queue)) {
    throw new RpcError('unknown_queue',
      `queue '${queue}' does not exist (queues: ${names.join(', ')})`);
  }
  if (pause) dispatcher.pause(queue);
  else dispatcher.resume(queue);
  return { args: { queue, paused: dispatcher.paused(queue) } };
}

const logNames = ['dispatcher', 'events-dispatcher'] as const;

const timeValue = z.union([z.number(), z.string()],
  { error: 'must be a number or a string' });

const readLogsSchema = z.object({
  logs: z.union([z.string(), z.array(z.string())],
    { error: 'must be a log name or an array of them' }).optional(),
  time_format: z.string({ error: 'must be a string' }).optional(),
  start_time: timeValue.optional(),
  end_time: timeValue.optional()
}).loose();

const relativeUnits: Record<string, number> = {
  relative_second: 1000,
  relative_minute: 60 * 1000,
  relative_hour: 60 * 60 * 1000,
  relative_day: 24 * 60 * 60 * 1000,
  relative_month: 30 * 24 * 60 * 60 * 1000
};

/** Turns a time given in `format` into epoch milliseconds. */
export function parseTime(
  value: number | string,
  format: string,
  now: number,
  field: string
): number {
  if (format === 'iso8601') {
    const ms = Date.parse(String(value));
    if (Number.isNaN(ms)) {
      throw new RpcError('bad_request', `args.${field} is not an ISO 8601 time`);
    }
    return ms;
  }
  const number = Number(value);
  if (!Number.isFinite(number)) {
    throw new RpcError('bad_request',
      `args.${field} must be a number for time_format ${format}`);
  }
  if (format === 'time_t_seconds') return number * 1000;
  if (format === 'epoch_mseconds') return number;
  const unit = relativeUnits[format];
  if (unit !== undefined) return now + number * unit;
  throw new RpcError('bad_request',
    `args.time_format '${format}' is not one of time_t_seconds, ` +
    `epoch_mseconds, ${Object.keys(relativeUnits).join(', ')}, iso8601`);
}

/**
 * `read_logs`: lines of the `dispatcher` log (one per finished job) and
 * the `events-dispatcher` log (job lifecycle events) between two times;
 * by default the last 12 hours.
 */
export function readLogs(args: unknown, services: Services): Reply {
  const request = parse(readLogsSchema, args ?? {}, 'args');
  const asked = request.logs === undefined ? [] : [request.logs].flat();
  for (const name of asked) {
    if (!(logNames as readonly string[]).includes(name)) {
      throw new RpcError('bad_request',
        `args.logs: no log '${name}'; logs: ${logNames.join(', ')}`);
    }
  }
  const logs = asked.length > 0 ? asked : [...logNames];
  const now = Date.now();
  const format = request.time_format ?? 'epoch_mseconds';
  const end = request.end_time === undefined || !request.time_format
    ? now
    : parseTime(request.end_time, format, now, 'end_time');
  const start = request.start_time === undefined || !request.time_format
    ? end - 12 * 60 * 60 * 1000
    : parseTime(request.start_time, format, now, 'start_time');
  const reply: Record<string, Record<string, unknown>> = {};
  for (const log of logs) reply[log] = {};
  for (const log of logs) {
    const lines = services.store.logLines([log], start, end, MAX_LOG_LINES);
    for (const line of lines) {
      // Keys are times; lines of the same millisecond get a suffix.
      const stamp = isoTime(line.at)!;
      let key = stamp;
      for (let n = 2; key in reply[log]; n++) key = `${stamp} #${n}`;
      reply[log][key] = line.message;
    }
  }
  return { args: reply };
}
