/**
 * What every way of logging in shares: `rpc/auth`, `rpc/auth_token`, and
 * REST Basic and Bearer credentials. A locked-out address is refused
 * before any password or token is looked at; a failure is counted
 * against its address; every attempt leaves an audit line.
 */
import type { Logger } from 'pino';

import type { Monitor } from '../metrics/monitor.js';
import type { LoginThrottle } from '../security/throttle.js';
import { RpcError } from './errors.js';

/** How a client tried to log in, for the audit log. */
export type LoginMethod = 'password' | 'token' | 'basic' | 'bearer';

export interface LoginAttempt {
  address: string;
  method: LoginMethod;
  /** The user named, or the token's owner when known; null otherwise. */
  user: string | null;
}

/** Longest user name copied into a log line. */
const LOGGED_NAME = 64;

/** Throws `locked_out` while `address` is locked out. */
export function refuseLockedOut(
  throttle: LoginThrottle,
  address: string
): void {
  const ms = throttle.lockedFor(address);
  if (ms > 0) {
    throw new RpcError(
      'locked_out',
      `too many failed logins from ${address}; ` +
        `try again in ${Math.ceil(ms / 1000)} s`
    );
  }
}

/** Writes the audit line of a successful login; tells `monitor`. */
export function loginSucceeded(
  log: Logger,
  attempt: LoginAttempt,
  monitor?: Monitor
): void {
  log.info({ audit: true, ...logged(attempt), ok: true }, 'login');
  monitor?.login(attempt.method, true);
}

/**
 * Writes the audit line of a failed login, counts it, and throws: 401
 * with `detail`, or 403 `locked_out` when this failure reached the limit.
 */
export function loginFailed(
  log: Logger,
  throttle: LoginThrottle,
  attempt: LoginAttempt,
  detail: string,
  monitor?: Monitor
): never {
  log.info({ audit: true, ...logged(attempt), ok: false }, 'login');
  monitor?.login(attempt.method, false);
  const verdict = throttle.fail(attempt.address);
  if (!verdict.locked) throw new RpcError('unauthorized', detail);
  log.warn(
    {
      audit: true,
      address: attempt.address,
      until: new Date(verdict.untilMs).toISOString()
    },
    'address locked out'
  );
  refuseLockedOut(throttle, attempt.address);
  throw new RpcError(
    'locked_out',
    `too many failed logins from ${attempt.address}`
  );
}

function logged(attempt: LoginAttempt) {
  const { user } = attempt;
  return {
    address: attempt.address,
    method: attempt.method,
    user: user !== null && user.length > LOGGED_NAME
      ? `${user.slice(0, LOGGED_NAME)}…`
      : user
  };
}
