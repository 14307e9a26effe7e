/**
 * Where the trainer (and the HTTP service) report what they do when the host application has a
 * logger of its own: any object with pino's `info`, `warn` and `error` methods. Each call passes
 * the structured fields first and a short message second, pino's `(mergingObject, message)` form,
 * which pino, bunyan-style and `console` loggers all accept.
 */
import { InvalidArgumentError } from './errors.js';

/** A pino-compatible logger: `logger.info({ step: 500, loss: 0.1234 }, 'training log')`. */
export interface Logger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** Throws unless `logger` has the three methods; `where` names the option in the message. */
export function checkLogger(logger: unknown, where: string): Logger | undefined {
  if (logger === undefined) return undefined;
  const missing = ['info', 'warn', 'error'].filter((method) => typeof (logger as Record<string, unknown> | null)?.[method] !== 'function');
  if (missing.length > 0) {
    throw new InvalidArgumentError(`${where} must be a logger with info, warn and error methods (pino, console, …); it lacks ${missing.join(', ')}`);
  }
  return logger as Logger;
}
