/**
 * The server: accounts, the dispatcher, the event hub and both
 * transports, started and stopped together.
 */
import { hostname } from 'node:os';

import { TokenStore } from './auth/tokens.js';
import { UserStore } from './auth/users.js';
import type { ServerConfig } from './config.js';
import { Dispatcher } from './jobs/dispatcher.js';
import { createLogger, logJobs, type Logger } from './log.js';
import { EventHub } from './rpc/events.js';
import type { Services } from './rpc/handlers.js';
import { RestTransport } from './rpc/rest-server.js';
import { WsTransport } from './rpc/ws-server.js';

export interface ServerOptions {
  /** Logger to use; default: JSON lines on stdout at `info`. */
  log?: Logger;
}

export class DispatcherServer {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly dispatcher: Dispatcher;
  /** Bound ports, known once `start()` has resolved. */
  wsPort = 0;
  restPort = 0;
  /** Set when `start()` created the first user, `admin`. */
  adminPassword: string | undefined;
  #ws: WsTransport | null = null;
  #rest: RestTransport | null = null;
  #hub: EventHub;
  #unlog: (() => void) | null = null;

  constructor(config: ServerConfig, options: ServerOptions = {}) {
    this.config = config;
    this.log = options.log ?? createLogger();
    this.dispatcher = new Dispatcher({
      queues: config.queues,
      graceMs: config.graceMs,
      maxOutputBytes: config.maxOutputBytes,
      recentJobs: config.recentJobs,
      cwd: config.jobCwd
    });
    this.#hub = new EventHub(config.outputIntervalMs);
  }

  /** Opens the users file, starts the queues, then both listeners. */
  async start(): Promise<void> {
    const { store, adminPassword } = await UserStore.open(this.config.dataDir);
    this.adminPassword = adminPassword;
    const services: Services = {
      dispatcher: this.dispatcher,
      users: store,
      tokens: new TokenStore(this.config.tokenIdleMs),
      hub: this.#hub,
      hostname: hostname(),
      log: this.log
    };
    this.dispatcher.on('error', (error) =>
      this.log.error({ err: error }, 'job actor failed')
    );
    this.#unlog = logJobs(this.dispatcher, this.log);
    this.#hub.attach(this.dispatcher);
    this.dispatcher.start();
    this.#ws = new WsTransport(services);
    this.#rest = new RestTransport(services);
    const { host } = this.config;
    this.wsPort = await this.#ws.listen({ host, port: this.config.wsPort });
    this.restPort = await this.#rest.listen({
      host,
      port: this.config.restPort
    });
    this.log.info(
      {
        host,
        wsPort: this.wsPort,
        restPort: this.restPort,
        dataDir: this.config.dataDir,
        queues: this.config.queues.map(
          (q) => `${q.name}=${Number.isFinite(q.concurrency) ? q.concurrency : 'unlimited'}`
        )
      },
      'listening'
    );
  }

  /**
   * Stops listening, kills running jobs (SIGTERM, then SIGKILL after the
   * grace period) and resolves when their process trees are gone.
   */
  async stop(): Promise<void> {
    await Promise.all([this.#ws?.close(), this.#rest?.close()]);
    await this.dispatcher.stop();
    this.#hub.detach();
    this.#unlog?.();
    this.log.info('stopped');
  }
}
