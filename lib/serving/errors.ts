/**
 * The service's error answers: every one is a JSON `{ error, error_type }` body, TEI's shape, with
 * TEI's error types (`Validation`, `Overloaded`, `Unhealthy`, `Backend`, `Empty`) and a few of our
 * own for what TEI answers without a body (`Unauthorized`, `NotFound`, `PayloadTooLarge`).
 */
import { CancelledError, CrossEncoderError, InvalidArgumentError, ModelFormatError, ModelNotFoundError } from '../errors.js';

/** The `error_type` of an error body. */
export type ServingErrorType = 'Validation' | 'Empty' | 'PayloadTooLarge' | 'Unauthorized' | 'NotFound' | 'Overloaded' | 'Unhealthy' | 'Backend' | 'Cancelled';

/** An error body, as every route answers one. */
export interface ServingErrorBody {
  error: string;
  error_type: ServingErrorType;
}

/** An error meant for the client: its HTTP status and error type. */
export class HttpError extends CrossEncoderError {
  readonly statusCode: number;
  readonly errorType: ServingErrorType;

  constructor(statusCode: number, errorType: ServingErrorType, message: string, options?: ErrorOptions) {
    super(message, 'ERR_HTTP', options);
    this.statusCode = statusCode;
    this.errorType = errorType;
  }
}

/** Fastify's own request errors (body parsing, content type) by status. */
const FASTIFY_TYPES: Readonly<Record<number, ServingErrorType>> = { 413: 'PayloadTooLarge', 415: 'Validation', 400: 'Validation' };

/**
 * The status and body answered for any error a request raised: ours as they are, schema
 * violations as 422, Fastify's parsing errors with their status, a bad argument or model file the
 * library caught as 422, a model not found as 404, anything else as a 500 (whose message is
 * logged, not sent: it may be a bug).
 */
export function errorReply(error: unknown, payloadLimit: number): { statusCode: number; body: ServingErrorBody; internal: boolean } {
  if (error instanceof HttpError) return { statusCode: error.statusCode, body: { error: error.message, error_type: error.errorType }, internal: false };
  const fastify = error as { validation?: unknown; statusCode?: number; code?: string; message?: string };
  if (fastify.validation !== undefined) return { statusCode: 422, body: { error: String(fastify.message), error_type: 'Validation' }, internal: false };
  if (fastify.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { statusCode: 413, body: { error: `the request body is larger than the limit of ${payloadLimit} bytes`, error_type: 'PayloadTooLarge' }, internal: false };
  }
  const status = fastify.statusCode;
  if (typeof fastify.code === 'string' && fastify.code.startsWith('FST_') && status !== undefined && status >= 400 && status < 500) {
    return { statusCode: status, body: { error: String(fastify.message), error_type: FASTIFY_TYPES[status] ?? 'Validation' }, internal: false };
  }
  if (error instanceof InvalidArgumentError || error instanceof ModelFormatError) {
    return { statusCode: 422, body: { error: error.message, error_type: 'Validation' }, internal: false };
  }
  if (error instanceof ModelNotFoundError) return { statusCode: 404, body: { error: error.message, error_type: 'NotFound' }, internal: false };
  // Nobody reads this answer (the client is gone); 499 is what access logs call it.
  if (error instanceof CancelledError) return { statusCode: 499, body: { error: error.message, error_type: 'Cancelled' }, internal: false };
  return { statusCode: 500, body: { error: 'internal error while scoring; see the server log', error_type: 'Backend' }, internal: true };
}
