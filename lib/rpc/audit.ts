/**
 * Audit lines for the requests that change what runs: `run`, `kill`,
 * `pause` and `resume`.
 * Each says who asked, from where, what, and how it was answered, in a
 * line of its own marked `audit: true` (logins write theirs in
 * `login.ts`). A request is described within bounds: a batch of 10 000
 * jobs does not make a 10 000-job log line.
 */
import type { Logger } from 'pino';

/** The `rpc/dispatcher` actions that are audited. */
const AUDITED = new Set(['run', 'kill', 'pause', 'resume']);

/** Jobs described per line at most; the rest are only counted. */
const LISTED_JOBS = 20;
/** Longest command text copied into a line, characters. */
const LISTED_COMMAND = 256;

export type AuditedAction = 'run' | 'kill' | 'pause' | 'resume';

export interface AuditedRequest {
  transport: 'ws' | 'rest';
  address: string;
  user: string | null;
  action: AuditedAction;
  args: Record<string, unknown>;
  /** The reply's code: 200, or the error's. */
  code: number;
}

/** Whether a request is one that `auditRequest` records. */
export function audited(
  namespace: string,
  name: string,
  args: unknown
): args is Record<string, unknown> & { action: AuditedAction } {
  if (namespace !== 'rpc' || name !== 'dispatcher') return false;
  if (typeof args !== 'object' || args === null) return false;
  if (!Object.hasOwn(args, 'action')) return false;
  const { action } = args as { action?: unknown };
  return typeof action === 'string' && AUDITED.has(action);
}

/** Writes the audit line of an audited request. */
export function auditRequest(log: Logger, request: AuditedRequest): void {
  const { args, action } = request;
  const what = action === 'run'
    ? runDetails(args)
    : action === 'kill'
      ? killDetails(args)
      : { queue: text(args.queue) };
  log.info(
    {
      audit: true,
      transport: request.transport,
      address: request.address,
      user: request.user,
      action,
      ...what,
      code: request.code
    },
    action
  );
}

function runDetails(args: Record<string, unknown>) {
  const ids = Object.keys(args).filter(
    (key) => key !== 'action' && key !== 'queue'
  );
  const jobs = ids.slice(0, LISTED_JOBS).map((id) => ({
    id: clip(id),
    commands: commandList(args[id])
  }));
  return {
    queue: typeof args.queue === 'string' ? clip(args.queue) : 'no_queue',
    jobs,
    jobCount: ids.length
  };
}

function killDetails(args: Record<string, unknown>) {
  const given = args.job_id;
  const ids = Array.isArray(given) ? given : [given];
  return {
    jobIds: ids.slice(0, LISTED_JOBS).map(text),
    jobCount: ids.length
  };
}

function commandList(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.slice(0, LISTED_JOBS).map(text);
}

/**
 * Any value from a request as bounded text. JSON, not `String()`: the
 * latter calls the value's own `toString`, which a request can set to
 * anything.
 */
function text(value: unknown): string {
  if (typeof value === 'string') return clip(value);
  return clip(JSON.stringify(value) ?? String(value));
}

function clip(text: string): string {
  return text.length > LISTED_COMMAND
    ? `${text.slice(0, LISTED_COMMAND)}…`
    : text;
}
