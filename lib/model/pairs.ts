/** (query, document) pairs, the input of every scoring call, and their validation. */
import { InvalidArgumentError } from '../errors.js';

/** A (query, document) pair. */
export type Pair = readonly [string, string];

/** Throws unless `pair` is two strings; `where` names it in the message (`pairs[3]`). */
export function checkPair(pair: unknown, where: string): asserts pair is Pair {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
    const shown = JSON.stringify(pair)?.slice(0, 80);
    throw new InvalidArgumentError(`${where} must be a [query, document] pair of two strings, got ${shown}`);
  }
}

/**
 * Throws unless `pairs` is an array of pairs, naming the first bad one by its index. An index
 * loop, not forEach, which skips the holes of a sparse array.
 */
export function checkPairs(pairs: unknown): asserts pairs is readonly Pair[] {
  if (!Array.isArray(pairs)) throw new InvalidArgumentError('pairs must be an array of [query, document] pairs');
  for (let i = 0; i < pairs.length; i++) checkPair(pairs[i], `pairs[${i}]`);
}

/** Throws when a path or name holds a NUL character, which no file system accepts (Node would throw a bare TypeError). */
export function checkNoNul(value: string, where: string): void {
  if (value.includes('\0')) throw new InvalidArgumentError(`${where} must not contain a NUL character, got ${JSON.stringify(value)}`);
}
