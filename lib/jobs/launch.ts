/**
 * How each job is launched: the user it runs as (per queue, or for all)
 * and its clean environment. Users are looked up once, when the server
 * starts, so a typo stops the server instead of failing every job.
 */
import {
  commonEnvironment,
  jobEnvironment,
  serverUser,
  type JobUser
} from '../process/environment.js';
import { lookupUser, type RunAs } from '../process/run-as.js';

/** What a job's commands are started with. */
export interface JobLaunch {
  env: Record<string, string>;
  /** Null: the server's own user. */
  user: RunAs | null;
}

export interface LaunchSettings {
  /** User for every queue without one of its own; null: the server's. */
  runAs: string | null;
  /** User per queue name. */
  queueRunAs: Readonly<Record<string, string>>;
  /** `NAME=VALUE` or `NAME` settings; see `commonEnvironment`. */
  jobEnv: readonly string[];
}

export class JobLauncher {
  #common: Record<string, string>;
  #default: RunAs | null;
  #perQueue = new Map<string, RunAs>();
  #self: JobUser = serverUser();

  /**
   * @param queues names of the configured queues, to catch a per-queue
   *   user given for a queue that does not exist
   * @throws {Error} for an unknown user or queue, or a bad variable
   */
  constructor(
    settings: LaunchSettings,
    queues: readonly string[],
    serverEnv: NodeJS.ProcessEnv = process.env
  ) {
    this.#common = commonEnvironment(settings.jobEnv, serverEnv);
    this.#default = settings.runAs === null
      ? null
      : lookupUser(settings.runAs);
    for (const [queue, name] of Object.entries(settings.queueRunAs)) {
      if (!queues.includes(queue)) {
        throw new Error(
          `--queue-run-as ${queue}=${name}: no queue '${queue}' ` +
            `(queues: ${queues.join(', ')})`
        );
      }
      this.#perQueue.set(queue, lookupUser(name));
    }
  }

  /** The user a queue's jobs run as; null: the server's own. */
  userOf(queue: string): RunAs | null {
    return this.#perQueue.get(queue) ?? this.#default;
  }

  /** Queues whose jobs would run as root. */
  rootQueues(queues: readonly string[]): string[] {
    return queues.filter((queue) => {
      const user = this.userOf(queue);
      return user ? user.uid === 0 : process.getuid?.() === 0;
    });
  }

  /** Settings for one job's commands. */
  launch(job: { id: string; queue: string }): JobLaunch {
    const user = this.userOf(job.queue);
    const who = user ? { name: user.user, home: user.home } : this.#self;
    return { env: jobEnvironment(this.#common, who, job), user };
  }
}
