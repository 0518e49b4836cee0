/**
 * One server per data directory. Two servers on one directory would
 * both recover the same jobs: kill each other's running jobs and run
 * the same pending package upgrade twice. `server.lock` names the pid
 * holding the directory and when that process started, so a lock left
 * by a dead server (or a pid since reused) is recognised as stale.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

import { processStartTicks } from './recorder.js';

interface LockRecord {
  pid: number;
  start: number | null;
}

/** The data directory is held by another live server. */
export class DataDirectoryBusy extends Error {
  override readonly name = 'DataDirectoryBusy';
}

/**
 * Takes the data directory for this process; returns a function that
 * gives it back. Throws DataDirectoryBusy when a live server holds it.
 */
export function lockDataDirectory(dataDir: string): () => void {
  const path = join(dataDir, 'server.lock');
  const mine: LockRecord = {
    pid: process.pid,
    start: processStartTicks(process.pid)
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readLock(path);
      if (holder && holderAlive(holder)) {
        throw new DataDirectoryBusy(
          `another dispatcher server (pid ${holder.pid}) is using ` +
            `${dataDir}; stop it first, or give this one another --data-dir`
        );
      }
      rmSync(path, { force: true });
      continue;
    }
    writeSync(fd, JSON.stringify(mine) + '\n');
    closeSync(fd);
    return () => {
      const holder = readLock(path);
      if (holder?.pid === mine.pid) rmSync(path, { force: true });
    };
  }
  throw new DataDirectoryBusy(`could not take ${path}`);
}

function readLock(path: string): LockRecord | null {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as LockRecord;
    return Number.isInteger(record.pid) ? record : null;
  } catch {
    return null;
  }
}

function holderAlive(holder: LockRecord): boolean {
  if (holder.pid === process.pid) return true;
  const start = processStartTicks(holder.pid);
  if (start === null) return false;
  return holder.start === null || holder.start === start;
}
