/**
 * The part of `pidusage` 4.x that the usage sampler calls; the package
 * ships no types of its own.
 */
declare module 'pidusage' {
  interface Status {
    /** Percent of one core since the last call for this pid. */
    cpu: number;
    /** Resident memory, bytes. */
    memory: number;
    /** CPU time used so far, user and system, milliseconds. */
    ctime: number;
    /** Age of the process, milliseconds. */
    elapsed: number;
    /** When it was read, epoch milliseconds. */
    timestamp: number;
    pid: number;
    ppid: number;
  }

  interface Options {
    /** How long a pid's history is kept after its last use, ms. */
    maxage?: number;
    usePs?: boolean;
  }

  function pidusage(
    pids: number[],
    options?: Options
  ): Promise<Record<number, Status | undefined>>;

  namespace pidusage {
    /** Forgets every pid's history (global to the process). */
    function clear(): void;
  }

  export = pidusage;
}
