/**
 * Strict options: an options object whose names the callee does not know is an error naming the
 * valid ones, as training arguments are, with a "did you mean" for near misses and for the
 * snake_case spellings of Python's names (`top_k` → `topK`). A typo would otherwise be ignored
 * silently and the default used.
 */
import { InvalidArgumentError } from './errors.js';
import { suggest } from './suggest.js';

/**
 * The option names of an options type, written as `{ name: true, … }`: the compiler then checks
 * the list against the type, in both directions.
 */
export function optionNames<T extends object>(names: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(names);
}

/**
 * Throws unless `options` is undefined or a plain object whose keys are all in `known`.
 * `where` names the call in messages, e.g. `predict()`.
 * @throws InvalidArgumentError `rank(): unknown option 'top_k' (did you mean 'topK'?); valid options: topK, …`
 */
export function checkOptionNames(where: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`${where}: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  const unknown = Object.keys(options).filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  const described = unknown.map((name) => {
    const guess = suggest(name, known);
    return `'${name}'${guess ? ` (did you mean '${guess}'?)` : ''}`;
  });
  throw new InvalidArgumentError(
    `${where}: unknown option${unknown.length > 1 ? 's' : ''} ${described.join(', ')}; valid options: ${known.join(', ')}`,
  );
}
