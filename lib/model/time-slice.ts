/**
 * Cooperative time slicing for the JS-thread work of a scoring call (tokenising many pairs):
 * `yieldIfDue()` gives the event loop a turn once the slice's time is used up, so timers and I/O
 * wait at most about one slice however many pairs a call holds. (A count of pairs per slice does
 * not bound the time: one pair can cost from microseconds to milliseconds.)
 */
import { setImmediate as setImmediatePromise } from 'node:timers/promises';

/** Milliseconds of synchronous work between two yields. */
export const SLICE_MS = 5;

export class TimeSlice {
  private start = performance.now();

  /** Whether the slice's time is used up (then `yieldNow` should follow). */
  due(): boolean {
    return performance.now() - this.start >= SLICE_MS;
  }

  /** Yields to the event loop (a `setImmediate` turn) and starts a new slice. */
  async yieldNow(): Promise<void> {
    await setImmediatePromise();
    this.start = performance.now();
  }
}
