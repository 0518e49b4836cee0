/**
 * The schema of a `run` request, with the server's limits on job ids,
 * chains and commands built in. `args` keys other than `action` and
 * `queue` are jobs, so the keys themselves are checked too.
 */
import { z } from 'zod';

import { CommandLineError, splitCommand } from '../process/command-line.js';

/** Limits a `run` request must keep to; see `ServerConfig`. */
export interface RunLimits {
  maxJobIdLength: number;
  maxChainLength: number;
  maxCommandLength: number;
  maxArguments: number;
}

/** A validated `run` request. */
export interface RunArgs {
  queue: string;
  jobs: Array<{ id: string; commands: string[] }>;
}

/**
 * Characters a job id may have: letters and digits of any script, and
 * `_ . : @ + = , ~ -`. No blanks, quotes, slashes or control characters,
 * since ids end up in logs, file names and terminals.
 */
const JOB_ID = /^[\p{L}\p{N}\p{M}_.:@+=,~-]+$/u;
const JOB_ID_RULE =
  'use letters, digits and _ . : @ + = , ~ - (no blanks or symbols)';

/** Longest piece of a bad id quoted back in an error detail. */
const QUOTED_ID = 64;

/** Checks one job id; throws nothing, returns the problem or null. */
export function jobIdProblem(id: string, maxLength: number): string | null {
  // JSON may carry it as a key, but as a property name it would set an
  // object's prototype wherever jobs are keyed by id.
  if (id === '__proto__') return 'is a reserved name, not a job id';
  if (id.length > maxLength) {
    return `is a job id longer than ${maxLength} characters`;
  }
  if (!JOB_ID.test(id)) return `is not a valid job id: ${JOB_ID_RULE}`;
  return null;
}

/** A job's chain: one command string or a non-empty array of them. */
export function chainSchema(limits: RunLimits) {
  const { maxChainLength, maxCommandLength, maxArguments } = limits;
  const command = z
    .string({ error: 'must be a command string' })
    .max(maxCommandLength, `must be at most ${maxCommandLength} characters`)
    .refine((text) => text.trim().length > 0, 'must not be a blank command')
    .refine(
      (text) => wordCount(text) <= maxArguments,
      `must have at most ${maxArguments} words (program and arguments)`
    );
  return z.preprocess(
    (value) => (typeof value === 'string' ? [value] : value),
    z
      .array(command, {
        error: 'must be a command string or a non-empty array of them'
      })
      .min(1, 'must be a command string or a non-empty array of them')
      .max(maxChainLength, `must have at most ${maxChainLength} commands`)
  );
}

/**
 * The whole `run` request. Jobs keep the order of their keys; the queue
 * defaults to `no_queue`.
 */
export function runArgsSchema(limits: RunLimits) {
  const chain = chainSchema(limits);
  const queue = z.string({ error: 'must be a queue name' });
  // Not z.record: its copy of the object leaves out a `__proto__` key,
  // which must be refused here rather than silently dropped.
  return z.unknown().transform((raw, context): RunArgs => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      context.addIssue({ code: 'custom', message: 'must be an object' });
      return z.NEVER;
    }
    const jobs: RunArgs['jobs'] = [];
    let queueName = 'no_queue';
    const record = raw as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const value = record[key];
      if (key === 'action') continue;
      if (key === 'queue') {
        const parsed = queue.safeParse(value);
        if (!parsed.success) return fail(context, ['queue'], parsed.error);
        queueName = parsed.data;
        continue;
      }
      const problem = jobIdProblem(key, limits.maxJobIdLength);
      const path = [quoted(key)];
      if (problem) {
        context.addIssue({ code: 'custom', message: problem, path });
        return z.NEVER;
      }
      const parsed = chain.safeParse(value);
      if (!parsed.success) return fail(context, path, parsed.error);
      jobs.push({ id: key, commands: parsed.data });
    }
    if (jobs.length === 0) {
      context.addIssue({
        code: 'custom',
        message:
          'has no job: give each job as "ID": "command" or ["cmd", ...]'
      });
      return z.NEVER;
    }
    return { queue: queueName, jobs };
  });
}

/** Words in a command, or 0 when it cannot be split (it fails later). */
function wordCount(text: string): number {
  try {
    return splitCommand(text).length;
  } catch (error) {
    if (error instanceof CommandLineError) return 0;
    throw error;
  }
}

/** An id as it may appear in an error detail: short. */
function quoted(id: string): string {
  return id.length > QUOTED_ID ? `${id.slice(0, QUOTED_ID)}…` : id;
}

/** Moves the first issue of a sub-schema under `path` and fails. */
function fail(
  context: z.RefinementCtx,
  path: string[],
  error: z.ZodError
): never {
  const [issue] = error.issues;
  context.addIssue({
    code: 'custom',
    message: issue.message,
    path: [...path, ...issue.path.map(String)]
  });
  return z.NEVER;
}
