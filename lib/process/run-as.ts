/**
 * Running commands as another, less powerful user: looking the user up
 * once at start, and the spawn settings that give a command that user's
 * uid, gid and supplementary groups.
 *
 * Node's own `uid` and `gid` spawn options set the ids but drop every
 * supplementary group. That is enough for a user with no other groups
 * (`nobody`, most service users); for one with other groups, the command
 * is started through `setpriv` (util-linux), which sets the groups too
 * and then executes the command in the same process.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A user to run commands as, with what it takes to become it. */
export interface RunAs {
  /** The user's name, for logs and `USER`. */
  user: string;
  uid: number;
  /** Primary group. */
  gid: number;
  /** Every group the user is in, the primary one first. */
  groups: number[];
  /** Home directory from the user database. */
  home: string;
  /** `setpriv` to set supplementary groups; null when none are needed. */
  setpriv: string | null;
}

/** Where `setpriv` is looked for: fixed places, not a PATH search. */
const SETPRIV_PATHS = [
  '/usr/bin/setpriv',
  '/bin/setpriv',
  '/usr/sbin/setpriv'
];

/**
 * Looks a user up by name or number through the system's user database
 * (`id` and `getent`, so NSS sources such as LDAP count).
 *
 * @throws {Error} when the user does not exist, when the server could
 *   not switch to it (not root), or when it has supplementary groups and
 *   `setpriv` is not installed
 */
export function lookupUser(name: string): RunAs {
  if (!/^[A-Za-z0-9._-][A-Za-z0-9._$-]*$/.test(name)) {
    throw new Error(`--run-as '${name}' is not a user name`);
  }
  let uid: number;
  let groups: number[];
  let home: string;
  let user: string;
  try {
    user = run('id', ['-un', name]);
    uid = Number(run('id', ['-u', name]));
    groups = run('id', ['-G', name]).split(/\s+/).map(Number);
    home = run('getent', ['passwd', String(uid)]).split(':')[5] ?? '/';
  } catch {
    throw new Error(`--run-as ${name}: no such user`);
  }
  const gid = Number(run('id', ['-g', name]));
  const own = process.getuid?.();
  if (own !== 0 && own !== uid) {
    throw new Error(
      `--run-as ${name}: only a server running as root can run jobs as ` +
        'another user'
    );
  }
  const others = groups.filter((group) => group !== gid);
  let setpriv: string | null = null;
  if (others.length > 0 && own === 0) {
    setpriv = SETPRIV_PATHS.find((path) => existsSync(path)) ?? null;
    if (setpriv === null) {
      throw new Error(
        `--run-as ${name}: the user is in groups ${others.join(', ')}; ` +
          'giving them to jobs needs setpriv (util-linux), which is not ' +
          'installed'
      );
    }
  }
  return {
    user,
    uid,
    gid,
    groups: [gid, ...others],
    home: home || '/',
    setpriv
  };
}

/**
 * The program, arguments and spawn ids that run `argv` as `user`.
 * Without a user, `argv` runs as the server's own.
 */
export function spawnAs(
  argv: [string, ...string[]],
  user: RunAs | null | undefined
): { program: string; args: string[]; uid?: number; gid?: number } {
  const [program, ...args] = argv;
  if (!user) return { program, args };
  if (user.setpriv === null) {
    return { program, args, uid: user.uid, gid: user.gid };
  }
  return {
    program: user.setpriv,
    args: [
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      `--groups=${user.groups.join(',')}`,
      '--',
      program,
      ...args
    ]
  };
}

function run(program: string, args: string[]): string {
  return execFileSync(program, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore']
  }).trim();
}
