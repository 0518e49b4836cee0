/**
 * What the fuzzer sends: valid requests of every kind, mutated, and
 * plain junk, as fast-check arbitraries.
 *
 * Commands are drawn from a fixed set of harmless programs, and `run`
 * is never made by mutating another request: a mutation could turn any
 * string into a command. Random strings only ever reach `echo`.
 */
import fc from 'fast-check';

/** One WebSocket message. */
export type WsFuzz =
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: Uint8Array };

/** One REST request. */
export interface RestFuzz {
  method: string;
  path: string;
  /** Which credentials to send; the spec fills them in. */
  auth: 'token' | 'none' | 'bad-token' | 'bad-basic' | 'junk';
  headers: Record<string, string>;
  body: string;
}

const NASTY_NAMES = ['__proto__', 'constructor', 'prototype', 'toString',
  'hasOwnProperty', 'valueOf', 'then'];

/** An object with exactly these own keys, `__proto__` included. */
function own(entries: Array<[string, unknown]>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, {
      value, enumerable: true, writable: true, configurable: true
    });
  }
  return object;
}

const name = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[a-z0-9_.-]{1,8}$/) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY_NAMES, 'a', 'job-1',
    'x.y', 'é', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 250, maxLength: 300 }) }
);

/** JSON that holds no string a command could come from. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 })
);

export const safeCommand = fc.oneof(
  fc.constantFrom('true', 'false', 'sh -c "exit 3"', 'cat', 'sleep 0.01',
    'sleep 5', 'no-such-program-for-fuzz', 'echo "unbalanced', ' ', ''),
  fc.string({ maxLength: 20 }).map((text) => `echo ${text}`)
);

const chain = fc.oneof(
  { weight: 8, arbitrary: safeCommand },
  { weight: 4, arbitrary: fc.array(safeCommand, { maxLength: 4 }) },
  { weight: 1, arbitrary: junk }
);

/** A job id that the server takes. */
const goodId = fc.stringMatching(/^[a-z0-9_.-]{1,8}$/);

const queue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('no_queue', 'pkg_queue',
    'iocage_queue') },
  { weight: 1, arbitrary: fc.constantFrom('nope', '__proto__', 7, null) }
);

/** Mostly a small valid number, sometimes junk. */
const small = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: junk }
);

const runArgs = fc.tuple(
  fc.option(queue, { nil: undefined }),
  fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.tuple(goodId, chain),
      { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: fc.array(fc.tuple(name, chain),
      { maxLength: 4 }) }
  )
).map(([q, jobs]) => own([
  ['action', 'run'],
  ...(q === undefined ? [] : [['queue', q] as [string, unknown]]),
  ...jobs
]));

const idOrIds = fc.oneof(name, fc.array(name, { maxLength: 3 }), junk);

/** Requests other than `run`, valid in shape; mutated below. */
const templates: fc.Arbitrary<{ namespace: string; name: string;
  args: unknown }> = fc.oneof(
  fc.constant({ namespace: 'rpc', name: 'identify', args: {} }),
  fc.constant({ namespace: 'rpc', name: 'query', args: {} }),
  fc.record({ username: name, password: name }).map((args) =>
    ({ namespace: 'rpc', name: 'auth', args })),
  name.map((token) => ({ namespace: 'rpc', name: 'auth_token',
    args: { token } })),
  // Mostly a stranger's token: a bare logout ends the fuzzer's session.
  fc.oneof({ weight: 5, arbitrary: name.map((token) => ({ token })) },
    { weight: 1, arbitrary: fc.constant({}) })
    .map((args) => ({ namespace: 'rpc', name: 'auth_clear', args })),
  fc.record({ queue, limit: small, after: name, finished: fc.boolean() },
    { requiredKeys: [] })
    .map((args) => ({ namespace: 'rpc', name: 'dispatcher',
      args: { action: 'list', ...args } })),
  fc.record({ job_id: idOrIds, grace: small }, { requiredKeys: ['job_id'] })
    .map((args) => ({ namespace: 'rpc', name: 'dispatcher',
      args: { action: 'kill', ...args } })),
  fc.record({ job_id: idOrIds, command: small, offset: small,
    length: small }, { requiredKeys: ['job_id'] })
    .map((args) => ({ namespace: 'rpc', name: 'dispatcher',
      args: { action: 'get', ...args } })),
  fc.record({ queue, action: fc.constantFrom('pause', 'resume', 'explode',
    ...NASTY_NAMES) })
    .map((args) => ({ namespace: 'rpc', name: 'dispatcher', args })),
  fc.record({ action: fc.constantFrom('read_logs', 'x'), logs: name,
    time_format: fc.constantFrom('time_t_seconds', 'relative_day', 'iso',
      'nope'), start_time: fc.oneof(fc.integer(), name),
    end_time: fc.oneof(fc.integer(), name) })
    .map((args) => ({ namespace: 'rpc', name: 'logs', args })),
  fc.oneof(fc.constant(['dispatcher']), fc.constant('dispatcher'), name,
    fc.record({ events: fc.constant('dispatcher'), since: junk }))
    .chain((args) => fc.constantFrom('subscribe', 'unsubscribe')
      .map((verb) => ({ namespace: 'events', name: verb, args }))),
  fc.tuple(name, name).map(([namespace, verb]) =>
    ({ namespace, name: verb, args: {} }))
);

/** Mutations that keep away from `run` (see the file comment). */
const mutation = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 6 }) }
);

const mutated = fc.tuple(templates, mutation, name, junk).map(
  ([request, how, key, value]) => {
    const args = typeof request.args === 'object' && request.args !== null &&
      !Array.isArray(request.args)
      ? own(Object.entries(request.args as object)) : request.args;
    switch (how) {
      case 0: return request;
      case 1: return { ...request, args: value };
      case 2: return { namespace: request.namespace, name: request.name };
      case 3:
        if (typeof args === 'object' && args !== null && !Array.isArray(args)
          && (args as { action?: unknown }).action !== 'run') {
          Object.defineProperty(args, key, { value, enumerable: true });
        }
        return { ...request, args };
      case 4: return { ...request, namespace: value };
      case 5: return own([['namespace', request.namespace],
        ['name', request.name], ['args', args], [key, value]]);
      default: return { ...request, id: value };
    }
  });

const envelope = fc.oneof(
  { weight: 5, arbitrary: mutated },
  { weight: 3, arbitrary: runArgs.map((args) =>
    ({ namespace: 'rpc', name: 'dispatcher', args })) },
  { weight: 1, arbitrary: junk }
).chain((value) => fc.oneof(fc.string({ maxLength: 8 }), fc.integer(),
  fc.constant(undefined)).map((id) =>
  typeof value === 'object' && value !== null && !Array.isArray(value) &&
    !Object.hasOwn(value, 'id') ? { ...value, id } : value));

/** Text that is mostly not JSON, or JSON cut short. */
const brokenText = fc.oneof(
  fc.string({ maxLength: 40 }),
  envelope.chain((value) => {
    const text = JSON.stringify(value) ?? 'null';
    return fc.nat(text.length).map((cut) => text.slice(0, cut));
  }),
  fc.constantFrom('{', '[]', 'null', '"x"', '1e999', '{"namespace":1}',
    '\u0000', '{"__proto__":{"polluted":1}}')
);

export const wsRequest: fc.Arbitrary<WsFuzz> = fc.oneof(
  { weight: 8, arbitrary: envelope.map((value) =>
    ({ kind: 'json' as const, value })) },
  { weight: 2, arbitrary: brokenText.map((text) =>
    ({ kind: 'text' as const, text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes) =>
    ({ kind: 'binary' as const, bytes })) }
);

/** A path segment from any value, escaped as a client would. */
function segment(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return encodeURIComponent(text ?? 'undefined');
}

/** The namespace, name and args of an envelope, however mangled. */
function parts(value: unknown): { path: string; args: unknown } {
  const v = value as { namespace?: unknown; name?: unknown; args?: unknown };
  if (typeof v !== 'object' || v === null) {
    return { path: `/${segment(v)}/x`, args: v };
  }
  return { path: `/${segment(v.namespace)}/${segment(v.name)}`,
    args: v.args };
}

export const restRequest: fc.Arbitrary<RestFuzz> = fc.record({
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('PUT', 'POST', 'GET') },
    { weight: 1, arbitrary: fc.constantFrom('DELETE', 'OPTIONS', 'PATCH') }
  ),
  auth: fc.oneof(
    { weight: 8, arbitrary: fc.constant('token' as const) },
    { weight: 1, arbitrary: fc.constantFrom('none' as const,
      'bad-token' as const, 'bad-basic' as const, 'junk' as const) }
  ),
  headers: fc.oneof(
    { weight: 10, arbitrary: fc.constant<Record<string, string>>({}) },
    { weight: 1, arbitrary: fc.constantFrom<Record<string, string>>(
      { 'Content-Type': 'text/plain' },
      { Origin: 'https://evil.example' }, { 'Sec-Fetch-Site': 'cross-site' },
      { Host: 'rebind.example' }) }
  ),
  request: envelope.map(parts),
  style: fc.oneof(
    { weight: 6, arbitrary: fc.constant('args') },
    { weight: 1, arbitrary: fc.constant('wrapped') },
    { weight: 1, arbitrary: brokenText },
    { weight: 1, arbitrary: fc.constantFrom('/', '/rpc',
      '/rpc/dispatcher/x', '/%E0%A4%A', '/rpc/%ZZ', '//rpc//auth',
      '/rpc/dispatcher?x=1', '/../../etc/passwd') }
  )
}).map(({ method, auth, headers, request, style }) => {
  const args = JSON.stringify(request.args) ?? '';
  let { path } = request;
  let body = args;
  if (style === 'wrapped') body = JSON.stringify({ args: request.args });
  else if (style.startsWith('/')) path = style;
  else if (style !== 'args') body = style;
  return { method, path, auth, headers, body };
});
