/**
 * The recorder: writes what the dispatcher reports to the job store and
 * the output files, as it happens.
 *
 * Every write is synchronous with the event, so a `run` reply is sent
 * only after its jobs are in the database: a job the server accepted is
 * never lost to a crash.
 */
import { readFileSync } from 'node:fs';

import type { Dispatcher, JobEvent } from '../jobs/dispatcher.js';
import { readProcess } from '../process/process-tree.js';
import type { Logger } from '../log.js';
import type { JobOutputWriter, OutputFiles } from './output-files.js';
import type { GroupRecord, JobStore, LogLine } from './store.js';

/** The boot id of this machine; pids mean nothing across boots. */
export function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** When a process started, in clock ticks since boot, from /proc. */
export function processStartTicks(pid: number): number | null {
  return readProcess(pid)?.startTicks ?? null;
}

interface Recorded {
  key: number;
  writer: JobOutputWriter | null;
}

export class Recorder {
  #store: JobStore;
  #files: OutputFiles;
  #log: Logger;
  #boot = bootId();
  #jobs = new Map<string, Recorded>();
  #listener = (event: JobEvent) => {
    // A store that fails (a full disk, a broken file) must not take the
    // server down with it; jobs go on and the fault is logged.
    try {
      // Output goes to files only; every other event's writes (a state
      // change and its log line) commit together, once.
      if (event.type === 'output') this.#record(event);
      else this.#store.atomically(() => this.#record(event));
    } catch (error) {
      this.#log.error({ err: error, event: event.type }, 'recording failed');
    }
  };
  #dispatcher: Dispatcher | null = null;
  #closing = new Set<Promise<unknown>>();

  constructor(store: JobStore, files: OutputFiles, log: Logger) {
    this.#store = store;
    this.#files = files;
    this.#log = log;
  }

  /** Starts recording. */
  attach(dispatcher: Dispatcher): void {
    this.#dispatcher = dispatcher;
    // Recording must see a job before any other listener answers for it.
    dispatcher.prependListener('job', this.#listener);
  }

  /** Stops recording once pending output files are flushed. */
  async detach(): Promise<void> {
    this.#dispatcher?.off('job', this.#listener);
    await Promise.all(this.#closing);
  }

  /** Takes back a job restored from the store under its stored key. */
  adopt(id: string, key: number): void {
    this.#jobs.set(id, { key, writer: null });
  }

  /** The store key of a live job. */
  keyOf(id: string): number | undefined {
    return this.#jobs.get(id)?.key;
  }

  #group(pid: number | null): GroupRecord | null {
    if (pid === null) return null;
    return { pgid: pid, startTicks: processStartTicks(pid), bootId: this.#boot };
  }

  #record(event: JobEvent): void {
    const at = Date.now();
    switch (event.type) {
      case 'queued': {
        if (event.restored) return;
        const from = event.jobs[0]?.submittedFrom ?? null;
        const keys = this.#store.addJobs(event.jobs, from);
        event.jobs.forEach((job, i) => {
          this.#jobs.set(job.id, { key: keys[i], writer: null });
        });
        this.#line(at, '', 'queued', {
          queue: event.jobs[0]?.queue,
          jobs: event.jobs.map((job) => job.id)
        });
        return;
      }
      case 'started': {
        const recorded = this.#jobs.get(event.job.id);
        if (!recorded) return;
        const commands = event.log.commands as Array<{ pid: number | null }>;
        const pid = commands[0]?.pid ?? null;
        this.#store.markRunning(recorded.key, at, this.#group(pid));
        // Files are made on a command's first output: most print little
        // or nothing, and opening one costs as much as a small job.
        recorded.writer = this.#files.writer(recorded.key);
        this.#line(at, event.job.id, 'started', { pid });
        return;
      }
      case 'command': {
        const recorded = this.#jobs.get(event.job.id);
        if (!recorded) return;
        this.#store.markGroup(recorded.key, this.#group(event.pid));
        // Kept now, so that a crash later in the chain loses none of it.
        if (event.previous) {
          const written = recorded.writer?.written.bytes ?? [];
          this.#store.addCommand(recorded.key, event.previous,
            written[event.previous.index] ?? 0);
        }
        return;
      }
      case 'output':
        this.#jobs.get(event.job.id)?.writer?.write(event.index, event.text);
        return;
      case 'signalled':
        this.#line(at, event.job.id, 'signal', {
          signal: event.signal,
          killed_by: event.by
        });
        return;
      case 'finished':
        this.#finish(event, at);
        return;
    }
  }

  #finish(event: JobEvent & { type: 'finished' }, at: number): void {
    const recorded = this.#jobs.get(event.job.id);
    if (!recorded) return;
    this.#jobs.delete(event.job.id);
    const written = recorded.writer?.written ?? { bytes: [], truncated: false };
    const log = event.log;
    this.#store.markFinished(recorded.key, {
      outcome: event.outcome,
      startedAt: event.startedAt,
      finishedAt: event.finishedAt,
      outcomes: event.outcomes,
      kill: event.kill,
      outputBytes: written.bytes,
      outputTruncated: written.truncated
    });
    // The line names what ran and how it ended; output stays in its
    // files, not repeated here.
    const summary: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(log)) {
      if (field === 'commands' || field === 'cmd_list') continue;
      if ((event.job.commands as string[]).includes(field)) continue;
      summary[field] = value;
    }
    summary.cmd_list = event.job.commands;
    this.#store.addLogLines([
      { at, log: 'dispatcher', message: summary },
      ...this.#eventLine(at, event.job.id, 'finished', {
        outcome: event.outcome
      })
    ]);
    if (recorded.writer) {
      const { key } = recorded;
      const closing = recorded.writer.close().then((final) => {
        const changed = final.truncated !== written.truncated ||
          final.bytes.some((bytes, i) => bytes !== written.bytes[i]);
        if (changed) this.#store.markOutput(key, final.bytes, final.truncated);
      }).catch((error) =>
        this.#log.error({ err: error, jobId: event.job.id },
          'closing output failed'));
      this.#closing.add(closing);
      void closing.finally(() => this.#closing.delete(closing));
    }
  }

  #line(at: number, id: string, kind: string, extra: object): void {
    this.#store.addLogLines(this.#eventLine(at, id, kind, extra));
  }

  #eventLine(at: number, id: string, kind: string, extra: object): LogLine[] {
    return [{
      at,
      log: 'events-dispatcher',
      message: { event: kind, process_id: id, ...extra }
    }];
  }
}
