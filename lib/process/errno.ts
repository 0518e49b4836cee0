/** Reading Node's system errors, which are thrown as `unknown`. */

/**
 * The errno code of a system error, e.g. `ENOENT`.
 *
 * @returns undefined when `err` carries no string code
 */
export function errorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The message of an Error, or the value as text for anything else. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
