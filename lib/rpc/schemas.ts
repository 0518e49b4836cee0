/**
 * Request schemas, shared by the WebSocket and REST transports. A request
 * that does not fit is refused with a `detail` naming the field and what
 * it should have been.
 */
import { z } from 'zod';

import { RpcError } from './errors.js';

/** The WebSocket envelope. `id` is echoed back in the reply. */
export const envelopeSchema = z.object({
  namespace: z.string({ error: 'must be a string' }),
  name: z.string({ error: 'must be a string' }),
  id: z.union([z.string(), z.number()], {
    error: 'must be a string or a number'
  }).optional(),
  args: z.unknown().optional()
}, { error: 'must be a JSON object' });

export type Envelope = z.infer<typeof envelopeSchema>;

const jobId = z
  .string()
  .min(1, 'job ids must not be empty')
  .max(256, 'job ids must be at most 256 characters');

export const queueNameSchema = z.string({ error: 'must be a queue name' });

export const killArgsSchema = z.object({
  action: z.literal('kill'),
  job_id: z.union([jobId, z.array(jobId).min(1)], {
    error: 'must be a string or an array of strings'
  }),
  grace: z
    .number({ error: 'must be a number of seconds' })
    .min(0, 'must not be negative')
    .max(3600, 'must be at most 3600 seconds')
    .optional()
});

export const listArgsSchema = z.object({
  action: z.literal('list'),
  queue: queueNameSchema.optional(),
  limit: z
    .number({ error: 'must be a whole number of jobs' })
    .int('must be a whole number of jobs')
    .min(1, 'must be at least 1')
    .optional(),
  after: z.string({ error: 'must be a job id' }).optional()
});

/** Longest user name and password taken, characters. */
const MAX_NAME = 256;
const MAX_PASSWORD = 4096;

export const credentialsSchema = z.object({
  username: z.string({ error: 'must be a string' })
    .max(MAX_NAME, `must be at most ${MAX_NAME} characters`),
  password: z.string({ error: 'must be a string' })
    .max(MAX_PASSWORD, `must be at most ${MAX_PASSWORD} characters`)
});

export const tokenSchema = z.object({
  token: z.string({ error: 'must be a string' })
    .max(MAX_NAME, `must be at most ${MAX_NAME} characters`)
});

export const eventNamesSchema = z.union(
  [z.string().transform((name) => [name]), z.array(z.string()).min(1)],
  { error: 'must be an event name or an array of them' }
);

/**
 * Parses `value` with `schema`, or throws a 400 whose detail names the
 * first bad field under `prefix` (e.g. `args.job_id must be ...`).
 */
export function parse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  prefix: string
): z.infer<T> {
  // With the input in each issue, `describe` can tell a missing field
  // from one of the wrong type.
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [prefix, ...issue.path.map(String)].join('.');
  throw new RpcError('bad_request', `${path} ${describe(issue)}`);
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return 'is required';
  }
  if (issue.code === 'unrecognized_keys') {
    return `has unknown keys: ${issue.keys.join(', ')}`;
  }
  return issue.message;
}
