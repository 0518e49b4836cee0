/**
 * The error catalogue. Every error a request can get has a stable name,
 * the wire code clients of the original protocol already know, and a
 * short message. `detail` says what exactly was wrong with this request.
 * docs/errors.md lists the same table; a spec keeps the two in step.
 */

export const errorCatalogue = {
  bad_json: { code: 400, message: 'Bad Request' },
  bad_request: { code: 400, message: 'Bad Request' },
  unknown_action: { code: 400, message: 'Bad Request' },
  unknown_queue: { code: 400, message: 'Bad Request' },
  unknown_event: { code: 400, message: 'Bad Request' },
  not_found: { code: 404, message: 'Not Found' },
  method_not_allowed: { code: 405, message: 'Method Not Allowed' },
  job_id_in_use: { code: 409, message: 'Conflict' },
  body_too_large: { code: 413, message: 'Payload Too Large' },
  unauthorized: { code: 401, message: 'Unauthorized' },
  forbidden: { code: 403, message: 'Forbidden' },
  locked_out: { code: 403, message: 'Forbidden' },
  foreign_origin: { code: 403, message: 'Forbidden' },
  foreign_host: { code: 403, message: 'Forbidden' },
  too_many_connections: { code: 429, message: 'Too Many Requests' },
  too_many_jobs: { code: 429, message: 'Too Many Requests' },
  shutting_down: { code: 503, message: 'Service Unavailable' },
  internal: { code: 500, message: 'Internal Server Error' }
} as const;

export type ErrorName = keyof typeof errorCatalogue;

/** The `args` of an error reply. */
export interface ErrorArgs {
  code: number;
  message: string;
  detail: string;
  error: ErrorName;
}

/** A request that cannot be served; becomes an error reply. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  readonly error: ErrorName;
  readonly detail: string;

  constructor(error: ErrorName, detail: string) {
    super(detail);
    this.error = error;
    this.detail = detail;
  }

  get code(): number {
    return errorCatalogue[this.error].code;
  }

  toArgs(): ErrorArgs {
    const { code, message } = errorCatalogue[this.error];
    return { code, message, detail: this.detail, error: this.error };
  }
}
