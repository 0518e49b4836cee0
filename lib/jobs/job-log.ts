/**
 * The job log: what clients see of a job in `list`, in events and in the
 * final event.
 *
 * It keeps every field of the original wire format (`cmd_list`,
 * `process_id`, `state`, `time_started`, `time_finished`, `current_cmd`,
 * each command's text keyed by the command string and
 * `return_codes/<command>`) and adds `commands`, one entry per command in
 * order, because keys made of command text collide when a chain repeats
 * a command.
 */
import { constants } from 'node:os';

import type { CommandOutcome, KillRecord } from '../../machines/job.js';
import type { QueuedJob } from '../../machines/queue.js';

/** Job states as the wire names them. */
export type WireState = 'pending' | 'running' | 'finished';

/**
 * How a finished job ended. `interrupted`: it was running when the
 * server died, and was ended when the server started again.
 */
export type Outcome = 'success' | 'failure' | 'killed' | 'interrupted';

/** One command as reported to clients. */
export interface CommandLog {
  index: number;
  command: string;
  pid: number | null;
  time_started: string | null;
  time_finished: string | null;
  /** Epoch milliseconds, with a fraction. */
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  signal: string | null;
  error: string | null;
  output: string;
  output_bytes: number;
  output_omitted_bytes: number;
}

/** Output kept for one command. */
export interface CommandText {
  text: string;
  totalBytes: number;
  omittedBytes: number;
}

/** Everything the log is built from. */
export interface JobFacts {
  job: QueuedJob;
  state: WireState;
  /** Index of the command running now (or the last one run). */
  index: number;
  pid: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  outcomes: CommandOutcome[];
  outputs: CommandText[];
  kill: KillRecord | null;
  outcome: Outcome | null;
}

export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * Compatible return code of a command: its exit status; 128 + signal
 * number when a signal ended it; 127 when the program was missing and
 * 126 when it could not be run, as shells report them.
 */
export function returnCode(outcome: CommandOutcome): number {
  if (outcome.exitCode !== null) return outcome.exitCode;
  if (outcome.signal) return 128 + signalNumber(outcome.signal);
  return outcome.error?.startsWith('program not found') ? 127 : 126;
}

function signalNumber(signal: string): number {
  return (constants.signals as Record<string, number>)[signal] ?? 0;
}

function commandLog(
  facts: JobFacts,
  index: number
): CommandLog {
  const outcome = facts.outcomes[index];
  const text = facts.outputs[index];
  const running = !outcome && index === facts.index;
  return {
    index,
    command: facts.job.commands[index],
    pid: outcome ? outcome.pid : running ? facts.pid : null,
    time_started: isoTime(outcome?.startedAt ?? null),
    time_finished: isoTime(outcome?.finishedAt ?? null),
    started_at: outcome?.startedAt ?? null,
    finished_at: outcome?.finishedAt ?? null,
    exit_code: outcome?.exitCode ?? null,
    signal: outcome?.signal ?? null,
    error: outcome?.error ?? null,
    output: text?.text ?? '',
    output_bytes: text?.totalBytes ?? 0,
    output_omitted_bytes: text?.omittedBytes ?? 0
  };
}

/** Fields of the log that command-text keys must not replace. */
const logFields = new Set([
  'process_id', 'queue', 'state', 'cmd_list', 'current_cmd',
  'time_submitted', 'submitted_by', 'submitted_from', 'time_started',
  'time_finished', 'commands', 'outcome', 'killed', 'output_truncated',
  'event', 'seq', 'time'
]);

/** Builds the full job log. */
export function jobLog(facts: JobFacts): Record<string, unknown> {
  const { job } = facts;
  const log: Record<string, unknown> = {
    process_id: job.id,
    queue: job.queue,
    state: facts.state,
    cmd_list: job.commands,
    current_cmd:
      facts.state === 'running' || facts.outcomes.length > 0
        ? job.commands[facts.index] ?? ''
        : '',
    time_submitted: isoTime(job.submittedAt),
    submitted_by: job.submittedBy,
    time_started: isoTime(facts.startedAt) ?? '',
    time_finished: isoTime(facts.finishedAt) ?? ''
  };
  const commands: CommandLog[] = [];
  const seen = Math.max(facts.outcomes.length, facts.outputs.length);
  for (let index = 0; index < seen; index++) {
    const entry = commandLog(facts, index);
    commands.push(entry);
    // A repeated command overwrites the earlier entry here, as it did in
    // the original; `commands` keeps each one. A command named like one
    // of the log's own fields gets no key of its own.
    if (!logFields.has(entry.command)) log[entry.command] = entry.output;
    const outcome = facts.outcomes[index];
    if (outcome) log[`return_codes/${entry.command}`] = returnCode(outcome);
  }
  log.commands = commands;
  if (facts.outcome) log.outcome = facts.outcome;
  if (facts.kill) {
    log.killed = {
      by: facts.kill.by,
      time_requested: isoTime(facts.kill.requestedAt),
      grace_ms: facts.kill.graceMs,
      signals: facts.kill.signals,
      escalated: facts.kill.escalated
    };
  }
  return log;
}
