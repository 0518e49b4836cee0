/**
 * Request handlers, one per `namespace/name`, looked up in an explicit
 * table: a name that is not in it (including `__proto__` and the like)
 * is simply unknown. Both transports call `handle()`.
 */
import type { Logger } from 'pino';
import { z } from 'zod';

import type { DebugFeed } from '../debug/feed.js';
import { describeMachines } from '../debug/machines.js';
import type { Dispatcher } from '../jobs/dispatcher.js';
import { isoTime } from '../jobs/job-log.js';
import { usageFields, type UsageSampler } from '../jobs/usage.js';
import type { Monitor } from '../metrics/monitor.js';
import { tokenKey, type Session, type TokenStore } from '../auth/tokens.js';
import type { Role, UserStore } from '../auth/users.js';
import { checkLiveJobs, type Security } from '../security/index.js';
import { RpcError } from './errors.js';
import { loginFailed, loginSucceeded, refuseLockedOut } from './login.js';
import type { OutputFiles } from '../store/output-files.js';
import type { Recorder } from '../store/recorder.js';
import type { JobStore } from '../store/store.js';
import type { EventHub, Subscriber } from './events.js';
import { finishedJobs, getJob, pauseQueue, readLogs } from './history.js';
import {
  credentialsSchema,
  eventNamesSchema,
  killArgsSchema,
  listArgsSchema,
  parse,
  tokenSchema
} from './schemas.js';

/** What handlers work with. */
export interface Services {
  dispatcher: Dispatcher;
  users: UserStore;
  tokens: TokenStore;
  hub: EventHub;
  /** Login throttling, origin checks and limits. */
  security: Security;
  /** Finished jobs, their output and the stored logs. */
  store: JobStore;
  files: OutputFiles;
  recorder: Recorder;
  hostname: string;
  log: Logger;
  /** CPU and memory samples of running jobs, when sampling. */
  usage?: UsageSampler;
  /** Told of logins and dropped subscribers, for metrics. */
  monitor?: Monitor;
  /** Live actor states for the debugging page. */
  debug?: DebugFeed;
}

/** Who sent a request, and through what. */
export interface Caller {
  transport: 'ws' | 'rest';
  /** Remote address, for logs. */
  address: string;
  session: Session | null;
  /**
   * `tokenKey` of the token the caller presented, if any (REST bearer or
   * WS login); the token itself is not kept.
   */
  token: string | null;
  /** Changes the connection's login (WebSocket only). */
  login?(session: Session | null, token: string | null): void;
  /** The connection as an event subscriber (WebSocket only). */
  subscriber?: Subscriber;
}

/** A handler's answer: reply args, or no reply at all. */
export type Reply = { args: unknown } | { silent: true };

type Handler = (
  args: unknown,
  caller: Caller,
  services: Services
) => Reply | Promise<Reply>;

interface Route {
  /** Lowest role that may call it; null when no login is needed. */
  role: Role | null;
  handler: Handler;
}

const routes = new Map<string, Route>([
  ['rpc/identify', { role: null, handler: identify }],
  ['rpc/auth', { role: null, handler: auth }],
  ['rpc/auth_token', { role: null, handler: authToken }],
  ['rpc/auth_clear', { role: null, handler: authClear }],
  ['rpc/query', { role: 'read', handler: query }],
  ['rpc/dispatcher', { role: 'read', handler: dispatcher }],
  ['rpc/logs', { role: 'read', handler: logs }],
  ['sysadm/logs', { role: 'read', handler: logs }],
  ['events/subscribe', { role: 'read', handler: subscribe }],
  ['events/unsubscribe', { role: 'read', handler: unsubscribe }],
  ['debug/subscribe', { role: 'full', handler: debugSubscribe }],
  ['debug/unsubscribe', { role: 'full', handler: debugUnsubscribe }],
  ['debug/job', { role: 'full', handler: debugJob }]
]);

/** Serves one request; throws RpcError when it cannot. */
export async function handle(
  namespace: string,
  name: string,
  args: unknown,
  caller: Caller,
  services: Services
): Promise<Reply> {
  const route = routes.get(`${namespace}/${name}`);
  if (!route) {
    throw new RpcError(
      'not_found',
      `no such request '${namespace}/${name}'; ` +
        `known: ${[...routes.keys()].join(', ')}`
    );
  }
  if (route.role !== null) requireRole(caller, route.role);
  return route.handler(args ?? {}, caller, services);
}

function requireRole(caller: Caller, role: Role): Session {
  const { session } = caller;
  if (!session) {
    throw new RpcError(
      'unauthorized',
      'log in first: rpc/auth with username and password, or a valid token'
    );
  }
  if (role === 'full' && session.role !== 'full') {
    throw new RpcError(
      'forbidden',
      `user '${session.user}' has read-only access; this needs full access`
    );
  }
  return session;
}

function identify(_: unknown, __: Caller, services: Services): Reply {
  return { args: { type: 'server', hostname: services.hostname } };
}

async function auth(
  args: unknown,
  caller: Caller,
  services: Services
): Promise<Reply> {
  const { username, password } = parse(credentialsSchema, args, 'args');
  const { throttle } = services.security;
  refuseLockedOut(throttle, caller.address);
  const role = await services.users.verify(username, password);
  const attempt = {
    address: caller.address,
    method: 'password' as const,
    user: username
  };
  if (!role) {
    loginFailed(services.log, throttle, attempt,
      'wrong username or password', services.monitor);
  }
  loginSucceeded(services.log, attempt, services.monitor);
  const session = { user: username, role };
  const { token, seconds } = services.tokens.issue(session);
  caller.login?.(session, tokenKey(token));
  return { args: [token, seconds] };
}

function authToken(args: unknown, caller: Caller, services: Services): Reply {
  const { token } = parse(tokenSchema, args, 'args');
  const { throttle } = services.security;
  refuseLockedOut(throttle, caller.address);
  const session = services.tokens.resolve(token);
  const attempt = {
    address: caller.address,
    method: 'token' as const,
    user: session?.user ?? null
  };
  if (!session) {
    loginFailed(services.log, throttle, attempt,
      'the token is unknown or expired', services.monitor);
  }
  loginSucceeded(services.log, attempt, services.monitor);
  const key = tokenKey(token);
  caller.login?.(session, key);
  return { args: [token, services.tokens.secondsLeft(key)] };
}

function authClear(args: unknown, caller: Caller, services: Services): Reply {
  // Lenient on purpose: on the WebSocket there is no reply to refuse with.
  const given = (args as { token?: unknown } | null)?.token;
  const key = typeof given === 'string' ? tokenKey(given) : caller.token;
  if (key) services.tokens.revokeKey(key);
  caller.login?.(null, null);
  // The original sent no reply on the WebSocket; REST must answer.
  return caller.transport === 'ws' ? { silent: true } : { args: {} };
}

function query(_: unknown, caller: Caller): Reply {
  const write = caller.session?.role === 'full' ? 'read/write' : 'read';
  return {
    args: {
      'rpc/dispatcher': write,
      'rpc/identify': 'read',
      'rpc/query': 'read',
      'events/dispatcher': 'read'
    }
  };
}

/**
 * `events/subscribe`: args are event names (a string or an array), or
 * `{"events": names, "since": seq}` to first get again every kept event
 * numbered after `seq`.
 */
function subscribe(args: unknown, caller: Caller, services: Services): Reply {
  let since: number | undefined;
  if (typeof args === 'object' && args !== null && !Array.isArray(args)) {
    const request = parse(resumeSchema, args, 'args');
    since = request.since;
    args = request.events;
  }
  const names = eventNames(args, caller);
  const resumed = services.hub.subscribe(caller.subscriber!, since);
  services.log.debug({ address: caller.address, names }, 'subscribed');
  return {
    args: {
      subscribed: names,
      seq: services.hub.seq,
      ...(since !== undefined && resumed)
    }
  };
}

const resumeSchema = z.object({
  events: z.union([z.string(), z.array(z.string())],
    { error: 'must be an event name or an array of them' })
    .default('dispatcher'),
  since: z.number({ error: 'must be an event sequence number' })
    .int('must be an event sequence number')
    .min(0, 'must not be negative')
    .optional()
});

function logs(args: unknown, _: Caller, services: Services): Reply {
  const action = (args as { action?: unknown } | null)?.action;
  if (action !== 'read_logs') {
    throw new RpcError('unknown_action',
      'args.action must be read_logs');
  }
  return readLogs(args, services);
}

function unsubscribe(
  args: unknown,
  caller: Caller,
  services: Services
): Reply {
  const names = eventNames(args, caller);
  services.hub.unsubscribe(caller.subscriber!);
  return { args: { unsubscribed: names } };
}

function eventNames(args: unknown, caller: Caller): string[] {
  if (!caller.subscriber) {
    throw new RpcError(
      'bad_request',
      'events need a WebSocket connection; REST cannot carry them'
    );
  }
  const names = parse(eventNamesSchema, args, 'args');
  for (const name of names) {
    if (name !== 'dispatcher') {
      throw new RpcError(
        'unknown_event',
        `no event '${name}'; this server sends: dispatcher`
      );
    }
  }
  return names;
}

/**
 * `debug/subscribe`: the machine definitions and every live actor's
 * state; `debug/actors` messages follow as states change.
 */
function debugSubscribe(
  _: unknown,
  caller: Caller,
  services: Services
): Reply {
  const feed = debugFeed(caller, services);
  const actors = feed.subscribe(caller.subscriber!);
  return { args: { machines: describeMachines(), ...actors } };
}

function debugUnsubscribe(
  _: unknown,
  caller: Caller,
  services: Services
): Reply {
  debugFeed(caller, services).unsubscribe(caller.subscriber!);
  return { args: {} };
}

/** `debug/job`: `{"id": ...}` of a running job; its context and output. */
function debugJob(args: unknown, _: Caller, services: Services): Reply {
  const id = (args as { id?: unknown } | null)?.id;
  if (typeof id !== 'string') {
    throw new RpcError('bad_request', 'args.id must be a job id');
  }
  const job = services.dispatcher.inspectJob(id);
  if (!job) {
    throw new RpcError('not_found', `job '${id.slice(0, 100)}' is not running`);
  }
  return { args: job };
}

function debugFeed(caller: Caller, services: Services): DebugFeed {
  if (!caller.subscriber || !services.debug) {
    throw new RpcError(
      'bad_request',
      'debug updates need a WebSocket connection; REST cannot carry them'
    );
  }
  return services.debug;
}

type Action = (args: Record<string, unknown>, session: Session,
  services: Services, caller: Caller) => Reply | Promise<Reply>;

const actions = new Map<string, { role: Role; run: Action }>([
  ['run', { role: 'full', run: runJobs }],
  ['list', { role: 'read', run: listJobs }],
  ['kill', { role: 'full', run: killJobs }],
  ['get', { role: 'read', run: (args, _, services) => getJob(args, services) }],
  ['pause', {
    role: 'full',
    run: (args, _, services) => pauseQueue(args, services, true)
  }],
  ['resume', {
    role: 'full',
    run: (args, _, services) => pauseQueue(args, services, false)
  }]
]);

// Built once: zod compiles a schema on its first use, per instance.
const listArgs = listArgsSchema.loose();

const actionNames = () => [...actions.keys()].join(', ');

function dispatcher(
  args: unknown,
  caller: Caller,
  services: Services
): Reply | Promise<Reply> {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new RpcError('bad_request', 'args must be an object');
  }
  const record = args as Record<string, unknown>;
  const name = record.action;
  if (typeof name !== 'string') {
    throw new RpcError(
      'bad_request',
      `args.action is required: one of ${actionNames()}`
    );
  }
  const action = actions.get(name);
  if (!action) {
    throw new RpcError(
      'unknown_action',
      `args.action '${name}' is not one of ${actionNames()}`
    );
  }
  const session = requireRole(caller, action.role);
  return action.run(record, session, services, caller);
}

function runJobs(
  args: Record<string, unknown>,
  session: Session,
  services: Services,
  caller: Caller
): Reply {
  const { security } = services;
  const { queue, jobs } = parse(security.runArgs, args, 'args');
  checkLiveJobs(
    services.dispatcher.queueSizes(), queue, jobs.length, security.jobs
  );
  const result = services.dispatcher.run(
    queue, jobs, session.user, caller.address
  );
  if (!result.ok) throw new RpcError(result.error, result.detail);
  return { args: { started: result.started, queue: result.queue } };
}

function listJobs(
  args: Record<string, unknown>,
  _: Session,
  services: Services
): Reply {
  const { queue, limit, after } = parse(listArgs, args, 'args');
  const finished = finishedJobs(args, services);
  const { dispatcher } = services;
  const limits = new Map(
    dispatcher.queues.map((config) => [config.name, config.concurrency])
  );
  if (queue !== undefined && !limits.has(queue)) {
    throw new RpcError(
      'unknown_queue',
      `queue '${queue}' does not exist ` +
        `(queues: ${[...limits.keys()].join(', ')})`
    );
  }
  let listing;
  try {
    listing = dispatcher.list({ queue, limit, after });
  } catch (error) {
    throw new RpcError('bad_request', `args.after: ${(error as Error).message}`);
  }
  const jobs: Record<string, Record<string, unknown>> = {};
  // Jobs of one request share a submit time: format it once, not 100 000
  // times.
  let lastMs = NaN;
  let lastIso: string | null = null;
  for (const entry of listing.entries) {
    const { job } = entry;
    if (job.submittedAt !== lastMs) {
      lastMs = job.submittedAt;
      lastIso = isoTime(lastMs);
    }
    const listed: Record<string, unknown> = {
      commands: job.commands,
      state: entry.state
    };
    if (Number.isFinite(limits.get(job.queue))) {
      listed.queue_position = String(entry.position);
    }
    listed.pid = entry.pid;
    listed.current_cmd =
      entry.state === 'running' ? job.commands[entry.index] : '';
    listed.time_submitted = lastIso;
    listed.time_started = isoTime(entry.startedAt);
    listed.submitted_by = job.submittedBy;
    const sample = entry.state === 'running'
      ? services.usage?.get(job.id)
      : undefined;
    if (sample) Object.assign(listed, usageFields(sample));
    (jobs[job.queue] ??= {})[job.id] = listed;
  }
  const queues: Record<string, unknown> = {};
  for (const [name, sizes] of dispatcher.queueSizes()) {
    if (queue !== undefined && name !== queue) continue;
    const concurrency = limits.get(name)!;
    queues[name] = {
      limit: Number.isFinite(concurrency) ? concurrency : 'unlimited',
      ...sizes,
      paused: dispatcher.paused(name)
    };
  }
  return { args: { jobs, queues, next: listing.next, ...finished } };
}

function killJobs(
  args: Record<string, unknown>,
  session: Session,
  services: Services
): Reply {
  const { job_id, grace } = parse(killArgsSchema, args, 'args');
  const ids = typeof job_id === 'string' ? [job_id] : job_id;
  const graceMs = grace === undefined ? undefined : Math.round(grace * 1000);
  const result = services.dispatcher.kill(ids, session.user, graceMs);
  return {
    args: {
      killed: {
        jobs: result.killed,
        finished: result.finished,
        unknown: result.unknown
      }
    }
  };
}
