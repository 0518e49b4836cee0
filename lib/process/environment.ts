/**
 * The environment jobs run with. Jobs do not inherit the server's
 * environment, which may hold secrets (passwords given to the client
 * commands, cloud credentials, tokens of the service manager); they get
 * a small, fixed set instead, plus what the operator adds by name.
 *
 * | Variable | Value |
 * |---|---|
 * | `PATH` | `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` |
 * | `HOME`, `USER`, `LOGNAME` | of the user the job runs as |
 * | `SHELL` | `/bin/sh` |
 * | `LANG`, `TZ` | the server's, when it has them |
 * | `DISPATCHER_JOB_ID`, `DISPATCHER_QUEUE` | the job's id and queue |
 */
import { userInfo } from 'node:os';

/** The search path of every job unless the operator sets another. */
export const JOB_PATH =
  '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Server variables passed on when set: not secret, and often needed. */
const PASSED_ON = ['LANG', 'TZ'];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The variables every job gets, whoever it runs as.
 *
 * @param settings `NAME=VALUE` to set a variable, or a bare `NAME` to
 *   copy it from `serverEnv` (left out when the server lacks it)
 * @throws {Error} for a setting that is not `NAME` or `NAME=VALUE`
 */
export function commonEnvironment(
  settings: readonly string[],
  serverEnv: NodeJS.ProcessEnv
): Record<string, string> {
  const env: Record<string, string> = Object.create(null);
  env.PATH = JOB_PATH;
  env.SHELL = '/bin/sh';
  for (const name of PASSED_ON) {
    const value = serverEnv[name];
    if (value !== undefined) env[name] = value;
  }
  for (const setting of settings) {
    const equals = setting.indexOf('=');
    const name = equals < 0 ? setting : setting.slice(0, equals);
    if (!NAME.test(name)) {
      throw new Error(
        `bad --job-env '${setting}': expected NAME=VALUE or NAME`
      );
    }
    const value = equals < 0 ? serverEnv[name] : setting.slice(equals + 1);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Who a job runs as, for its environment. */
export interface JobUser {
  name: string;
  home: string;
}

/** The server's own user, as a job running as it sees itself. */
export function serverUser(): JobUser {
  const { username, homedir } = userInfo();
  return { name: username, home: homedir };
}

/** The whole environment of one job's commands. */
export function jobEnvironment(
  common: Readonly<Record<string, string>>,
  user: JobUser,
  job: { id: string; queue: string }
): Record<string, string> {
  return {
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    ...common,
    DISPATCHER_JOB_ID: job.id,
    DISPATCHER_QUEUE: job.queue
  };
}
