/**
 * The security checks of one server, built from its settings and shared
 * by both transports and the request handlers. See docs/security.md.
 */
import type { ServerConfig } from '../config.js';
import { runArgsSchema } from '../rpc/run-schema.js';
import { ConnectionLimits, type JobLimits } from './limits.js';
import { OriginPolicy } from './origin.js';
import { LoginThrottle } from './throttle.js';

export interface Security {
  /** Failed logins per address, and lockouts. */
  throttle: LoginThrottle;
  /** Open connections per address and in all, both ports. */
  connections: ConnectionLimits;
  /** Allowed `Origin` and `Host` values. */
  origins: OriginPolicy;
  /** The `run` request, with the limits on ids, chains and commands. */
  runArgs: ReturnType<typeof runArgsSchema>;
  /** Live jobs in all and per queue. */
  jobs: JobLimits;
}

/** Builds the checks for a server with these settings. */
export function createSecurity(config: ServerConfig): Security {
  return {
    throttle: new LoginThrottle({
      limit: config.loginFailureLimit,
      windowMs: config.loginFailureWindowMs,
      lockoutMs: config.lockoutMs
    }),
    connections: new ConnectionLimits({
      perAddress: config.maxConnectionsPerAddress,
      total: config.maxConnections
    }),
    origins: new OriginPolicy({
      host: config.host,
      allowedOrigins: config.allowedOrigins,
      allowedHosts: config.allowedHosts
    }),
    runArgs: runArgsSchema(config),
    jobs: {
      maxLiveJobs: config.maxLiveJobs,
      maxLiveJobsPerQueue: config.maxLiveJobsPerQueue
    }
  };
}

export { addressKey, isLoopback } from './address.js';
export { checkLiveJobs, ConnectionLimits } from './limits.js';
export { OriginPolicy } from './origin.js';
export { LoginThrottle } from './throttle.js';
export { loadTls, PLAINTEXT_FLAG, type TlsFiles } from './tls.js';
