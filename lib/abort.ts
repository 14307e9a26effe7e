/** Stopping work with an `AbortSignal`: checking the option, and the error an abort raises. */
import { AbortError, InvalidArgumentError } from './errors.js';

/** Throws unless `signal` is undefined or an AbortSignal; `where` names the option in the message. */
export function checkSignal(signal: unknown, where: string): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw new InvalidArgumentError(`${where} must be an AbortSignal (e.g. AbortSignal.timeout(5000)), got ${typeof signal}`);
}

/** Throws an {@link AbortError} saying `what` stopped (and where) once the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: () => string): void {
  if (signal?.aborted) throw new AbortError(`${what()}: aborted (${describeReason(signal.reason)})`, { cause: signal.reason });
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.name === 'TimeoutError' ? 'timed out' : reason.message || reason.name;
  return String(reason);
}
