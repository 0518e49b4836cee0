/**
 * What the transports tell the metrics about, besides job events: the
 * few things that happen only inside a request or a connection.
 */
import type { LoginMethod } from '../rpc/login.js';

/** Told of logins and dropped subscribers; see `ServerMetrics`. */
export interface Monitor {
  /** A login attempt ended: `ok` false for a refused one. */
  login(method: LoginMethod, ok: boolean): void;
  /** A subscriber that stopped reading was dropped. */
  subscriberDropped(): void;
}
