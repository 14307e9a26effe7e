/**
 * Typed errors raised by torch-crossencoder. Every error carries a stable `code` so callers can
 * branch without parsing messages; native errors arrive with the same codes (see native/runtime/errors.h).
 */

/** Base class of every error this package raises on purpose. */
export class CrossEncoderError extends Error {
  /** Stable machine-readable code, e.g. `ERR_MODEL_FORMAT`. */
  readonly code: string;

  constructor(message: string, code = 'ERR_CROSS_ENCODER', options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An argument passed to the API is invalid (wrong type, out of range, unknown option). */
export class InvalidArgumentError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_INVALID_ARGUMENT', options);
  }
}

/** A model file (config, weights, tokenizer) is missing, malformed or inconsistent. */
export class ModelFormatError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_MODEL_FORMAT', options);
  }
}

/** A model could not be found locally and could not (or must not) be downloaded. */
export class ModelNotFoundError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_MODEL_NOT_FOUND', options);
  }
}

/** Reading or writing a file failed. */
export class FileSystemError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_IO', options);
  }
}

/** libtorch itself raised an error during a computation. */
export class TorchError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_TORCH', options);
  }
}

/** The work was cancelled (process exit, or an explicit cancel). */
export class CancelledError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_CANCELLED', options);
  }
}

/**
 * The caller's `AbortSignal` stopped the work (`predict`, `rank`, `predictStream`, `train`). Its
 * name is `AbortError` and its code `ABORT_ERR`, as Node's own aborted operations; the signal's
 * reason is its `cause`.
 */
export class AbortError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ABORT_ERR', options);
  }
}

/** The model was disposed (`dispose()` or `Symbol.asyncDispose`): its native memory is released. */
export class DisposedError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_DISPOSED', options);
  }
}

/**
 * A training step's loss was NaN or infinite (a learning rate far too high, labels out of range…):
 * the run stops there, since every later step would train on non-finite weights.
 */
export class NonFiniteLossError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NON_FINITE_LOSS', options);
  }
}

/**
 * Data-parallel training failed between processes: a rank could not join the rendezvous, or a
 * collective (gradient all-reduce, broadcast, barrier) failed or timed out because another rank
 * stopped. The message names this rank and what it was doing.
 */
export class DistributedError extends CrossEncoderError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_DISTRIBUTED', options);
  }
}

const byCode: Record<string, new (message: string, options?: ErrorOptions) => CrossEncoderError> = {
  ERR_INVALID_ARGUMENT: InvalidArgumentError,
  ERR_MODEL_FORMAT: ModelFormatError,
  ERR_MODEL_NOT_FOUND: ModelNotFoundError,
  ERR_IO: FileSystemError,
  ERR_TORCH: TorchError,
  ERR_CANCELLED: CancelledError,
  ERR_DISPOSED: DisposedError,
  ERR_DISTRIBUTED: DistributedError,
};

/** Turns an error thrown by the native addon (a plain Error with a `code`) into its typed class. */
export function fromNativeError(error: unknown): Error {
  if (error instanceof CrossEncoderError || !(error instanceof Error)) return error as Error;
  const code = (error as { code?: unknown }).code;
  const Type = typeof code === 'string' ? byCode[code] : undefined;
  return Type ? new Type(error.message, { cause: error }) : error;
}
