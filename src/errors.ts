/**
 * The one error family of canal-ts. Every failure that crosses a module boundary is a
 * `CanalError`, so callers (and the machines' guards) decide with `isRetriable(err)` instead
 * of matching messages. `cause` keeps the underlying error for logs.
 */
export class CanalError extends Error {
  override name = "CanalError";
  /** True when the same operation may succeed if tried again (network blips, a busy peer). */
  readonly retriable: boolean;

  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retriable = options.retriable ?? false;
  }
}

/** Bytes on the wire that do not follow the Canal protocol: bad frame, bad packet, error Ack. */
export class CanalProtocolError extends CanalError {
  override name = "CanalProtocolError";
  /** Canal's `Ack.error_code` when the error came from a peer's error Ack (400, 401, 402). */
  readonly code: number | undefined;

  constructor(message: string, options: { code?: number; retriable?: boolean; cause?: unknown } = {}) {
    super(message, options);
    this.code = options.code;
  }
}

/** The peer rejected our credentials, or a client presented bad ones. Never retriable. */
export class CanalAuthError extends CanalError {
  override name = "CanalAuthError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: false });
  }
}

/** A connection could not be made or was lost. Retriable by default. */
export class CanalConnectionError extends CanalError {
  override name = "CanalConnectionError";
  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { retriable: options.retriable ?? true, cause: options.cause });
  }
}

/** A configuration value or argument is invalid; the message names the value and what was expected. */
export class CanalConfigError extends CanalError {
  override name = "CanalConfigError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: false });
  }
}

/**
 * What a Canal server answers with error Ack 400 (CanalServerException, CanalMetaManagerException
 * and the like). The message is Canal's own text; the session puts it in the 400 reply.
 */
export class CanalServerError extends CanalError {
  override name = "CanalServerError";
  readonly code = 400;
}

/** The single predicate machines and retry loops use to decide whether to try again. */
export function isRetriable(err: unknown): boolean {
  return err instanceof CanalError && err.retriable;
}
