/**
 * Prometheus metrics of one server, in a registry of its own: several
 * servers may run in one process (the specs do) without mixing counts.
 * The Node.js process metrics are process-wide by nature and kept once,
 * in a registry every server shares. docs/metrics.md lists each metric.
 *
 * Counters follow the dispatcher's job events; gauges are read from the
 * dispatcher, the event hub and the WebSocket transport when scraped.
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics
} from 'prom-client';

import type { Dispatcher, JobEvent } from '../jobs/dispatcher.js';
import type { UsageSampler } from '../jobs/usage.js';
import type { LoginMethod } from '../rpc/login.js';
import { isLoopback } from '../security/address.js';
import type { Monitor } from './monitor.js';

/** Who may read `/metrics`; see `ServerConfig.metricsAccess`. */
export type MetricsAccess = 'loopback' | 'open' | 'login';

/** Content type of the Prometheus text format, version 0.0.4. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Upper bounds of the job duration buckets, seconds: 100 ms to a day. */
const DURATION_BUCKETS = [
  0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600
];

/**
 * Whether reading `/metrics` needs a `read` login, for a server that
 * listens on `host`. `loopback` leaves it open only when nothing but
 * this machine can reach the port.
 */
export function metricsNeedLogin(access: MetricsAccess, host: string): boolean {
  if (access === 'open') return false;
  if (access === 'login') return true;
  return !isLoopback(host);
}

/** Where the gauges read their values when scraped. */
export interface MetricsSources {
  dispatcher: Dispatcher;
  /** Subscribed WebSocket connections. */
  subscribers: () => number;
  /** Open WebSocket connections. */
  connections: () => number;
  /** CPU and memory of running jobs, when sampled. */
  usage?: UsageSampler;
}

let processRegistry: Registry | null = null;

/** The Node.js process metrics, made on first use, once per process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * One server's metrics. `attach()` starts counting job events;
 * `detach()` stops. It is also the transports' `Monitor`.
 */
export class ServerMetrics implements Monitor {
  readonly registry = new Registry();
  #sources: MetricsSources;
  #listener = (event: JobEvent) => this.#onJob(event);
  #submitted: Counter<'queue'>;
  #finished: Counter<'queue' | 'outcome'>;
  #duration: Histogram<'queue' | 'outcome'>;
  #signals: Counter<'queue' | 'signal'>;
  #escalations: Counter<'queue'>;
  #logins: Counter<'method' | 'result'>;
  #dropped: Counter;

  constructor(sources: MetricsSources) {
    this.#sources = sources;
    const registers = [this.registry];
    this.#submitted = new Counter({
      name: 'dispatcher_jobs_submitted_total',
      help: 'Jobs queued by run requests.',
      labelNames: ['queue'], registers
    });
    this.#finished = new Counter({
      name: 'dispatcher_jobs_finished_total',
      help: 'Jobs that ended, by outcome (success, failure, killed).',
      labelNames: ['queue', 'outcome'], registers
    });
    this.#duration = new Histogram({
      name: 'dispatcher_job_duration_seconds',
      help: 'Run time of jobs that started, from start to end.',
      labelNames: ['queue', 'outcome'], buckets: DURATION_BUCKETS, registers
    });
    this.#signals = new Counter({
      name: 'dispatcher_kill_signals_total',
      help: 'Signals kills sent to job process trees.',
      labelNames: ['queue', 'signal'], registers
    });
    this.#escalations = new Counter({
      name: 'dispatcher_kill_escalations_total',
      help: 'Killed jobs that needed SIGKILL.',
      labelNames: ['queue'], registers
    });
    this.#logins = new Counter({
      name: 'dispatcher_logins_total',
      help: 'Login attempts, by method and result (ok, failed).',
      labelNames: ['method', 'result'], registers
    });
    this.#dropped = new Counter({
      name: 'dispatcher_slow_subscribers_dropped_total',
      help: 'Event subscribers dropped because they stopped reading.',
      registers
    });
    this.#gauges(registers);
  }

  /** Starts counting the dispatcher's job events. */
  attach(): void {
    this.#sources.dispatcher.on('job', this.#listener);
  }

  /** Stops counting. */
  detach(): void {
    this.#sources.dispatcher.off('job', this.#listener);
  }

  /** The exposition text: this server's metrics, then the process's. */
  async render(): Promise<string> {
    const own = await this.registry.metrics();
    return own + (await processMetrics().metrics());
  }

  login(method: LoginMethod, ok: boolean): void {
    this.#logins.inc({ method, result: ok ? 'ok' : 'failed' });
  }

  subscriberDropped(): void {
    this.#dropped.inc();
  }

  #onJob(event: JobEvent): void {
    switch (event.type) {
      case 'queued':
        if (event.restored) break;
        for (const job of event.jobs) {
          this.#submitted.inc({ queue: job.queue });
        }
        break;
      case 'signalled':
        this.#signals.inc({ queue: event.job.queue, signal: event.signal });
        break;
      case 'finished': {
        const labels = { queue: event.job.queue, outcome: event.outcome };
        this.#finished.inc(labels);
        if (event.durationMs !== null) {
          this.#duration.observe(labels, event.durationMs / 1000);
        }
        if (event.kill?.escalated) {
          this.#escalations.inc({ queue: event.job.queue });
        }
        break;
      }
    }
  }

  /** Gauges read from their sources at each scrape. */
  #gauges(registers: Registry[]): void {
    const sources = this.#sources;
    const { dispatcher } = sources;
    new Gauge({
      name: 'dispatcher_jobs',
      help: 'Jobs now pending or running.',
      labelNames: ['queue', 'state'], registers,
      collect() {
        this.reset();
        for (const [queue, sizes] of dispatcher.queueSizes()) {
          this.set({ queue, state: 'pending' }, sizes.pending);
          this.set({ queue, state: 'running' }, sizes.running);
        }
      }
    });
    new Gauge({
      name: 'dispatcher_queue_length',
      help: 'Jobs waiting in a queue to start.',
      labelNames: ['queue'], registers,
      collect() {
        this.reset();
        for (const [queue, sizes] of dispatcher.queueSizes()) {
          this.set({ queue }, sizes.pending);
        }
      }
    });
    new Gauge({
      name: 'dispatcher_queue_paused',
      help: '1 while a queue is paused, else 0.',
      labelNames: ['queue'], registers,
      collect() {
        this.reset();
        for (const { name } of dispatcher.queues) {
          this.set({ queue: name }, dispatcher.paused(name) ? 1 : 0);
        }
      }
    });
    new Gauge({
      name: 'dispatcher_queue_cpu_percent',
      help: 'CPU of the running jobs of a queue, percent of one core, ' +
        'from the latest samples.',
      labelNames: ['queue'], registers,
      collect() {
        this.reset();
        for (const [queue, use] of queueUsage(sources)) {
          this.set({ queue }, use.cpu);
        }
      }
    });
    new Gauge({
      name: 'dispatcher_queue_memory_bytes',
      help: 'Resident memory of the running jobs of a queue, bytes, ' +
        'from the latest samples.',
      labelNames: ['queue'], registers,
      collect() {
        this.reset();
        for (const [queue, use] of queueUsage(sources)) {
          this.set({ queue }, use.memory);
        }
      }
    });
    new Gauge({
      name: 'dispatcher_websocket_connections',
      help: 'Open WebSocket connections.',
      registers,
      collect() {
        this.set(sources.connections());
      }
    });
    new Gauge({
      name: 'dispatcher_event_subscribers',
      help: 'WebSocket connections subscribed to events.',
      registers,
      collect() {
        this.set(sources.subscribers());
      }
    });
  }
}

/** Latest CPU and memory samples summed per queue; failed ones skipped. */
function queueUsage(
  sources: MetricsSources
): Map<string, { cpu: number; memory: number }> {
  const sums = new Map<string, { cpu: number; memory: number }>();
  const { usage } = sources;
  if (!usage) return sums;
  for (const { job } of sources.dispatcher.running()) {
    const sample = usage.get(job.id);
    if (!sample || 'error' in sample) continue;
    const sum = sums.get(job.queue) ?? { cpu: 0, memory: 0 };
    sum.cpu += sample.cpu;
    sum.memory += sample.memory;
    sums.set(job.queue, sum);
  }
  return sums;
}
