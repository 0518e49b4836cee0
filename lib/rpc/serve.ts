/**
 * Runs one request for either transport: looks up the handler, turns
 * failures into error replies, and logs the request.
 */
import { audited, auditRequest } from './audit.js';
import { RpcError, type ErrorArgs } from './errors.js';
import { handle, type Caller, type Services } from './handlers.js';

/** The outcome of one request, before it is put on the wire. */
export type Outcome =
  | { ok: true; args: unknown }
  | { ok: false; error: ErrorArgs }
  | { ok: true; silent: true };

/** Serves a request and never throws. */
export async function serveRequest(
  namespace: string,
  name: string,
  args: unknown,
  caller: Caller,
  services: Services
): Promise<Outcome> {
  const action = actionName(args);
  let outcome: Outcome;
  try {
    const reply = await handle(namespace, name, args, caller, services);
    outcome = 'silent' in reply ? { ok: true, silent: true } : {
      ok: true,
      args: reply.args
    };
  } catch (error) {
    outcome = { ok: false, error: failure(error, services) };
  }
  services.log.info(
    {
      transport: caller.transport,
      address: caller.address,
      user: caller.session?.user ?? null,
      request: `${namespace}/${name}`.slice(0, 128),
      action,
      code: outcome.ok ? 200 : outcome.error.code
    },
    'request'
  );
  if (audited(namespace, name, args)) {
    auditRequest(services.log, {
      transport: caller.transport,
      address: caller.address,
      user: caller.session?.user ?? null,
      action: args.action,
      args,
      code: outcome.ok ? 200 : outcome.error.code
    });
  }
  return outcome;
}

/**
 * The `action` of a request, for the log. Built without calling
 * anything on the request's values: `String()` of an object whose
 * `toString` is not a function throws.
 */
function actionName(args: unknown): string | undefined {
  if (typeof args !== 'object' || args === null) return undefined;
  if (!Object.hasOwn(args, 'action')) return undefined;
  const action = (args as { action: unknown }).action;
  return typeof action === 'string'
    ? action.slice(0, 32)
    : `(${typeof action})`;
}

/** Error args for anything a handler threw. */
export function failure(error: unknown, services?: Services): ErrorArgs {
  if (error instanceof RpcError) return error.toArgs();
  services?.log.error({ err: error }, 'request handler failed');
  return new RpcError(
    'internal',
    'the server failed to handle this request; see its log'
  ).toArgs();
}
