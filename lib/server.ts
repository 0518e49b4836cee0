/**
 * The server: accounts, the dispatcher, the event hub and both
 * transports, started and stopped together.
 */
import { hostname } from 'node:os';

import { TokenStore } from './auth/tokens.js';
import { UserStore } from './auth/users.js';
import type { ServerConfig } from './config.js';
import { Dispatcher } from './jobs/dispatcher.js';
import { JobLauncher } from './jobs/launch.js';
import { UsageSampler } from './jobs/usage.js';
import { createLogger, logJobs, type Logger } from './log.js';
import {
  METRICS_CONTENT_TYPE,
  ServerMetrics,
  metricsNeedLogin
} from './metrics/metrics.js';
import { sharedSpawner } from './process/spawner.js';
import { EventHub } from './rpc/events.js';
import type { Services } from './rpc/handlers.js';
import { RestTransport } from './rpc/rest-server.js';
import { DebugFeed } from './debug/feed.js';
import { WsTransport } from './rpc/ws-server.js';
import {
  createSecurity,
  isLoopback,
  loadTls,
  type TlsFiles
} from './security/index.js';
import { OutputFiles } from './store/output-files.js';
import { Recorder } from './store/recorder.js';
import {
  endInterrupted,
  markCleanStop,
  requeuePending,
  type Recovery
} from './store/recovery.js';
import { EventNumbers } from './store/event-numbers.js';
import { schedulePruning } from './store/retention.js';
import { lockDataDirectory } from './store/lock.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { JobStore } from './store/store.js';

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
  #launcher: JobLauncher | null = null;
  #hub: EventHub | null = null;
  #numbers: EventNumbers | null = null;
  #debug: DebugFeed | null = null;
  #unlog: (() => void) | null = null;
  #store: JobStore | null = null;
  #unlock: (() => void) | null = null;
  #recorder: Recorder | null = null;
  #stopPruning: (() => void) | null = null;
  /** CPU and memory of running jobs; set once `start()` has begun. */
  usage: UsageSampler | null = null;
  /** This server's Prometheus metrics; set once `start()` has begun. */
  metrics: ServerMetrics | null = null;
  /** What start-up recovery found; set once `start()` has resolved. */
  recovery: Recovery | null = null;

  constructor(config: ServerConfig, options: ServerOptions = {}) {
    this.config = config;
    this.log = options.log ?? createLogger();
    this.dispatcher = new Dispatcher({
      queues: config.queues,
      graceMs: config.graceMs,
      maxOutputBytes: config.maxOutputBytes,
      recentJobs: config.recentJobs,
      cwd: config.jobCwd,
      // Jobs start only after start() has made the launcher.
      launch: (job) => this.#launcher!.launch(job)
    });
  }

  /**
   * Opens the users file and the job store, recovers what the last run
   * left unfinished, starts the queues, then both listeners.
   */
  async start(): Promise<void> {
    const { config, log } = this;
    // Settings that cannot work stop the server before it touches its
    // data: plain text on a network address, an unknown user.
    const tls = await loadTls(config);
    this.#launcher = new JobLauncher(
      config, config.queues.map((queue) => queue.name)
    );
    const security = createSecurity(config);
    const { store, adminPassword } = await UserStore.open(config.dataDir, {
      onRehashFailed: (user, error) =>
        log.warn({ user, err: error }, 'password re-hash not saved')
    });
    this.adminPassword = adminPassword;
    this.#unlock = lockDataDirectory(config.dataDir);
    const jobs = new SqliteStore(config.dataDir);
    this.#store = jobs;
    const files = new OutputFiles(
      config.dataDir, config.outputCapBytes, this.#outputFault()
    );
    const recoveryOptions = {
      graceMs: config.graceMs,
      pauseAfterCrash: config.pauseAfterCrash,
      log
    };
    const ended = await endInterrupted(jobs, files, recoveryOptions);
    this.#debug = new DebugFeed(this.dispatcher);
    this.#numbers = new EventNumbers(jobs);
    const numbers = this.#numbers;
    this.#hub = new EventHub({
      intervalMs: config.outputIntervalMs,
      backlog: config.eventBacklog,
      backlogBytes: config.eventBacklogBytes,
      lastSeq: numbers.last,
      reserve: (seq) => numbers.cover(seq)
    });
    this.#recorder = new Recorder(jobs, files, log);
    const hub = this.#hub;
    this.usage = new UsageSampler(this.dispatcher, {
      intervalMs: config.usageIntervalMs,
      onSample: (job, sample) => hub.usage(job, sample)
    });
    this.metrics = new ServerMetrics({
      dispatcher: this.dispatcher,
      subscribers: () => hub.subscriberCount,
      connections: () => this.#ws?.connections ?? 0,
      usage: this.usage
    });
    const services: Services = {
      dispatcher: this.dispatcher,
      users: store,
      tokens: new TokenStore(config.tokenIdleMs, config.tokenMaxLifeMs),
      hub: this.#hub,
      security,
      store: jobs,
      files,
      recorder: this.#recorder,
      hostname: hostname(),
      log: this.log,
      usage: this.usage,
      monitor: this.metrics,
      debug: this.#debug ?? undefined
    };
    this.dispatcher.on('error', (error) =>
      this.log.error({ err: error }, 'job actor failed')
    );
    this.#unlog = logJobs(this.dispatcher, this.log);
    this.#recorder.attach(this.dispatcher);
    this.#hub.attach(this.dispatcher);
    this.metrics.attach();
    sharedSpawner().warm();
    this.dispatcher.start();
    this.usage.start();
    // Nothing starts until both ports are ours: a server that cannot
    // listen must leave the jobs it took back as they were.
    const queueNames = config.queues.map((queue) => queue.name);
    for (const name of queueNames) this.dispatcher.pause(name);
    const requeued = requeuePending(
      jobs, this.dispatcher, ended.crashed, recoveryOptions,
      (id, key) => this.#recorder!.adopt(id, key)
    );
    this.recovery = { ...ended, ...requeued };
    if (ended.crashed || ended.interrupted.length || requeued.requeued) {
      log.warn({
        crashed: ended.crashed,
        interrupted: ended.interrupted,
        requeued: requeued.requeued,
        paused: requeued.paused
      }, 'recovered unfinished jobs');
    }
    this.#stopPruning = schedulePruning(jobs, files, {
      maxAgeMs: config.retentionMaxAgeMs,
      maxJobs: config.retentionMaxJobs,
      intervalMs: 60 * 60 * 1000
    }, log);
    this.#ws = new WsTransport(services);
    this.#rest = new RestTransport(services, {
      needsLogin: metricsNeedLogin(config.metricsAccess, config.host),
      render: () => this.metrics!.render(),
      contentType: METRICS_CONTENT_TYPE
    }, () => this.wsPort || null);
    const { host } = this.config;
    try {
      this.wsPort = await this.#ws.listen({
        ...config, port: config.wsPort, tls
      });
      this.restPort = await this.#rest.listen({
        ...config, port: config.restPort, tls
      });
      // The debugging page on the REST port talks to the WebSocket.
      security.origins.allowOwnPort(this.restPort, tls !== null);
    } catch (error) {
      await this.stop();
      throw error;
    }
    for (const name of queueNames) {
      if (!requeued.paused.includes(name)) this.dispatcher.resume(name);
    }
    this.#warnUnsafe(tls);
    this.log.info(
      {
        host,
        wsPort: this.wsPort,
        restPort: this.restPort,
        dataDir: this.config.dataDir,
        tls: tls !== null,
        queues: this.config.queues.map(
          (q) => `${q.name}=${Number.isFinite(q.concurrency) ? q.concurrency : 'unlimited'}`
        )
      },
      'listening'
    );
  }

  /**
   * Stops listening, then kills running jobs (SIGTERM, then SIGKILL
   * after the grace period) or, with `onStop: 'wait'`, lets them finish;
   * resolves when their process trees are gone and the store is closed.
   * Pending jobs stay in the store for the next start.
   */
  async stop(): Promise<void> {
    await Promise.all([this.#ws?.close(), this.#rest?.close()]);
    await this.usage?.stop();
    await this.dispatcher.stop(this.config.onStop);
    // No process of ours outlives the server: the spawn helper goes too.
    await sharedSpawner().close();
    this.metrics?.detach();
    this.#debug?.close();
    this.#hub?.detach();
    this.#unlog?.();
    this.#stopPruning?.();
    await this.#recorder?.detach();
    if (this.#store) {
      if (this.#hub) this.#numbers?.close(this.#hub.seq);
      markCleanStop(this.#store);
      this.#store.close();
      this.#store = null;
    }
    this.#unlock?.();
    this.#unlock = null;
    this.log.info('stopped');
  }

  /** Sends SIGKILL to every running job's tree at once. */
  forceKill(): void {
    this.dispatcher.forceKill();
  }

  /** Warns about settings that work but weaken the server. */
  #warnUnsafe(tls: TlsFiles | null): void {
    const { config, log } = this;
    if (tls === null && !isLoopback(config.host)) {
      log.warn(
        { host: config.host },
        'listening on a network without TLS: passwords and tokens ' +
          'cross it in the clear'
      );
    }
    const names = config.queues.map((queue) => queue.name);
    const root = this.#launcher!.rootQueues(names);
    if (root.length > 0) {
      log.warn(
        { queues: root },
        'jobs of these queues run as root; see --run-as'
      );
    }
  }

  /** Logs write faults on output files a bounded number of times. */
  #outputFault() {
    let reported = 0;
    return (key: number, error: NodeJS.ErrnoException) => {
      reported++;
      if (reported <= 10 || reported % 1000 === 0) {
        this.log.error(
          { jobKey: key, code: error.code, reported },
          'job output could not be written; it is marked truncated'
        );
      }
    };
  }
}
