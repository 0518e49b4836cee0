/**
 * The job store in an SQLite file (better-sqlite3), in WAL mode.
 *
 * `synchronous = NORMAL`: a transaction is durable once the server
 * process has written it, whatever happens to the process; a power cut
 * may lose the last few. Full fsync on every job change would cap the
 * dispatcher at the disk's fsync rate.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import type { CommandOutcome, KillRecord } from '../../machines/job.js';
import type { QueuedJob } from '../../machines/queue.js';
import type { Outcome } from '../jobs/job-log.js';
import type {
  FinishedCursor,
  FinishRecord,
  GroupRecord,
  JobStore,
  LogLine,
  StoredCommand,
  StoredJob
} from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  key INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  queue TEXT NOT NULL,
  commands TEXT NOT NULL,
  submitted_by TEXT NOT NULL,
  submitted_from TEXT,
  submitted_at REAL NOT NULL,
  state TEXT NOT NULL,
  outcome TEXT,
  started_at REAL,
  finished_at REAL,
  pgid INTEGER,
  pgid_start INTEGER,
  boot_id TEXT,
  kill TEXT,
  output_bytes INTEGER NOT NULL DEFAULT 0,
  output_truncated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_id ON jobs (id, key);
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs (key)
  WHERE state != 'finished';
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at)
  WHERE state = 'finished';
CREATE TABLE IF NOT EXISTS commands (
  job_key INTEGER NOT NULL REFERENCES jobs (key) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  command TEXT NOT NULL,
  pid INTEGER,
  started_at REAL,
  finished_at REAL,
  exit_code INTEGER,
  signal TEXT,
  error TEXT,
  output_bytes INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_key, idx)
);
CREATE TABLE IF NOT EXISTS log_lines (
  at REAL NOT NULL,
  log TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_lines_by_time ON log_lines (log, at);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

interface JobRow {
  key: number;
  id: string;
  queue: string;
  commands: string;
  submitted_by: string;
  submitted_from: string | null;
  submitted_at: number;
  state: StoredJob['state'];
  outcome: Outcome | null;
  started_at: number | null;
  finished_at: number | null;
  pgid: number | null;
  pgid_start: number | null;
  boot_id: string | null;
  kill: string | null;
  output_bytes: number;
  output_truncated: number;
}

function toJob(row: JobRow): StoredJob {
  return {
    key: row.key,
    id: row.id,
    queue: row.queue,
    commands: JSON.parse(row.commands) as string[],
    submittedBy: row.submitted_by,
    submittedFrom: row.submitted_from,
    submittedAt: row.submitted_at,
    state: row.state,
    outcome: row.outcome,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    pgid: row.pgid,
    pgidStart: row.pgid_start,
    bootId: row.boot_id,
    kill: row.kill ? (JSON.parse(row.kill) as KillRecord) : null,
    outputBytes: row.output_bytes,
    outputTruncated: row.output_truncated === 1
  };
}

export class SqliteStore implements JobStore {
  /** Path of the database file. */
  readonly path: string;
  #db: Database.Database;
  #statements;

  /** Opens (creating if needed) `dispatcher.db` in `dataDir`. */
  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.path = join(dataDir, 'dispatcher.db');
    this.#db = new Database(this.path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.exec(SCHEMA);
    const db = this.#db;
    this.#statements = {
      insertJob: db.prepare(
        `INSERT INTO jobs (id, queue, commands, submitted_by, submitted_from,
           submitted_at, state)
         VALUES (?, ?, ?, ?, ?, ?, 'pending')`
      ),
      running: db.prepare(
        `UPDATE jobs SET state = 'running', started_at = ?, pgid = ?,
           pgid_start = ?, boot_id = ? WHERE key = ?`
      ),
      group: db.prepare(
        'UPDATE jobs SET pgid = ?, pgid_start = ?, boot_id = ? WHERE key = ?'
      ),
      finish: db.prepare(
        `UPDATE jobs SET state = 'finished', outcome = ?, started_at = ?,
           finished_at = ?, pgid = NULL, pgid_start = NULL, kill = ?,
           output_bytes = ?, output_truncated = ? WHERE key = ?`
      ),
      insertCommand: db.prepare(
        `INSERT OR REPLACE INTO commands (job_key, idx, command, pid,
           started_at, finished_at, exit_code, signal, error, output_bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
      ),
      outputTotal: db.prepare(
        'UPDATE jobs SET output_bytes = ?, output_truncated = ? WHERE key = ?'
      ),
      outputCommand: db.prepare(
        'UPDATE commands SET output_bytes = ? WHERE job_key = ? AND idx = ?'
      ),
      unfinished: db.prepare(
        "SELECT * FROM jobs WHERE state != 'finished' ORDER BY key"
      ),
      finished: db.prepare(
        `SELECT * FROM jobs WHERE state = 'finished'
           AND (finished_at < ? OR (finished_at = ? AND key < ?))
         ORDER BY finished_at DESC, key DESC LIMIT ?`
      ),
      latest: db.prepare(
        'SELECT * FROM jobs WHERE id = ? ORDER BY key DESC LIMIT 1'
      ),
      commands: db.prepare(
        'SELECT * FROM commands WHERE job_key = ? ORDER BY idx'
      ),
      insertLine: db.prepare(
        'INSERT INTO log_lines (at, log, message) VALUES (?, ?, ?)'
      ),
      getMeta: db.prepare('SELECT value FROM meta WHERE name = ?'),
      setMeta: db.prepare(
        'INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)'
      )
    };
  }

  addJobs(jobs: QueuedJob[], submittedFrom: string | null): number[] {
    const insert = this.#statements.insertJob;
    const keys: number[] = [];
    this.#db.transaction(() => {
      for (const job of jobs) {
        const result = insert.run(
          job.id, job.queue, JSON.stringify(job.commands), job.submittedBy,
          submittedFrom, job.submittedAt
        );
        keys.push(Number(result.lastInsertRowid));
      }
    })();
    return keys;
  }

  markRunning(key: number, at: number, group: GroupRecord | null): void {
    this.#statements.running.run(
      at, group?.pgid ?? null, group?.startTicks ?? null,
      group?.bootId ?? null, key
    );
  }

  markGroup(key: number, group: GroupRecord | null): void {
    this.#statements.group.run(
      group?.pgid ?? null, group?.startTicks ?? null, group?.bootId ?? null,
      key
    );
  }

  markFinished(key: number, record: FinishRecord): void {
    const { finish, insertCommand } = this.#statements;
    this.#db.transaction(() => {
      finish.run(
        record.outcome, record.startedAt, record.finishedAt,
        record.kill ? JSON.stringify(record.kill) : null,
        record.outputBytes.reduce((sum, bytes) => sum + bytes, 0),
        record.outputTruncated ? 1 : 0, key
      );
      record.outcomes.forEach((outcome: CommandOutcome, index) => {
        insertCommand.run(
          key, index, outcome.command, outcome.pid, outcome.startedAt,
          outcome.finishedAt, outcome.exitCode, outcome.signal,
          outcome.error, record.outputBytes[index] ?? 0
        );
      });
    })();
  }

  addCommand(key: number, outcome: CommandOutcome, outputBytes: number) {
    this.#statements.insertCommand.run(
      key, outcome.index, outcome.command, outcome.pid, outcome.startedAt,
      outcome.finishedAt, outcome.exitCode, outcome.signal, outcome.error,
      outputBytes
    );
  }

  markOutput(key: number, bytes: number[], truncated: boolean): void {
    const { outputTotal, outputCommand } = this.#statements;
    this.#db.transaction(() => {
      outputTotal.run(
        bytes.reduce((sum, n) => sum + n, 0), truncated ? 1 : 0, key
      );
      bytes.forEach((n, index) => outputCommand.run(n, key, index));
    })();
  }

  unfinished(): StoredJob[] {
    return (this.#statements.unfinished.all() as JobRow[]).map(toJob);
  }

  finished(limit: number, before?: FinishedCursor): StoredJob[] {
    const at = before?.finishedAt ?? Number.MAX_VALUE;
    const key = before?.key ?? Number.MAX_SAFE_INTEGER;
    const rows = this.#statements.finished.all(at, at, key, limit) as JobRow[];
    return rows.map(toJob);
  }

  latest(id: string): StoredJob | undefined {
    const row = this.#statements.latest.get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  commands(key: number): StoredCommand[] {
    const rows = this.#statements.commands.all(key) as Array<{
      idx: number; command: string; pid: number | null;
      started_at: number; finished_at: number; exit_code: number | null;
      signal: string | null; error: string | null; output_bytes: number;
    }>;
    return rows.map((row) => ({
      index: row.idx,
      command: row.command,
      pid: row.pid,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      exitCode: row.exit_code,
      signal: row.signal,
      error: row.error,
      outputBytes: row.output_bytes
    }));
  }

  addLogLines(lines: LogLine[]): void {
    const insert = this.#statements.insertLine;
    this.#db.transaction(() => {
      for (const line of lines) {
        insert.run(line.at, line.log, JSON.stringify(line.message));
      }
    })();
  }

  logLines(
    logs: string[],
    from: number,
    to: number,
    limit: number
  ): LogLine[] {
    const marks = logs.map(() => '?').join(', ');
    const rows = this.#db.prepare(
      `SELECT at, log, message FROM log_lines
       WHERE log IN (${marks}) AND at >= ? AND at <= ?
       ORDER BY at LIMIT ?`
    ).all(...logs, from, to, limit) as Array<{
      at: number; log: LogLine['log']; message: string;
    }>;
    return rows.map((row) => ({
      at: row.at,
      log: row.log,
      message: JSON.parse(row.message)
    }));
  }

  prune(olderThan: number, keepNewest: number): number[] {
    const db = this.#db;
    return db.transaction(() => {
      const rows = db.prepare(
        `SELECT key FROM jobs WHERE state = 'finished' AND (finished_at < ?
           OR key NOT IN (SELECT key FROM jobs WHERE state = 'finished'
                          ORDER BY key DESC LIMIT ?))`
      ).all(olderThan, keepNewest) as Array<{ key: number }>;
      const remove = db.prepare('DELETE FROM jobs WHERE key = ?');
      for (const row of rows) remove.run(row.key);
      db.prepare('DELETE FROM log_lines WHERE at < ?').run(olderThan);
      return rows.map((row) => row.key);
    })();
  }

  atomically<T>(work: () => T): T {
    return this.#db.transaction(work)();
  }

  getMeta(name: string): string | undefined {
    const row = this.#statements.getMeta.get(name) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  setMeta(name: string, value: string): void {
    this.#statements.setMeta.run(name, value);
  }

  close(): void {
    this.#db.close();
  }
}
