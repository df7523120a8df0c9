/**
 * The one error base of Netledger. `code` is stable and machine-readable (`INPUT.INVALID_IP`,
 * `NODE.REVISION_CONFLICT`); edges map codes to HTTP statuses or audit events, pure code only
 * throws or returns them.
 */
export class NetledgerError extends Error {
  override readonly name: string = 'NetledgerError';

  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; details?: Readonly<Record<string, unknown>> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.details = options?.details ?? {};
  }

  /** Structured facts about the failure (the object, the field, the value) for logs and audit. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** True when `error` is a NetledgerError carrying `code` (or any code when none is given). */
export function isNetledgerError(error: unknown, code?: string): error is NetledgerError {
  return error instanceof NetledgerError && (code === undefined || error.code === code);
}
