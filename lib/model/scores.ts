/**
 * What `predict` returns, typed by the model's number of labels. TypeScript cannot know a
 * checkpoint's `numLabels` before it is read, so {@link CrossEncoder} carries it as a type
 * parameter: `fromPretrained(id, { numLabels: 1 })` gives a `CrossEncoder<1>` whose `predict`
 * resolves to a `Float32Array` (a checkpoint with another head then fails to load rather than
 * mistype), `{ numLabels: 3 }` gives `Float32Array[]`, and a model loaded without `numLabels`
 * is a `CrossEncoder<number>`, whose results are the union until `hasOneLabel()` narrows it.
 */

/** `predict`'s result: one score per pair for one label, one `Float32Array` of `numLabels` per pair for several. */
export type Scores<NumLabels extends number> = NumLabels extends 1
  ? Float32Array
  : number extends NumLabels
    ? Float32Array | Float32Array[]
    : Float32Array[];

/** One pair's result in `predictStream`: a number for one label, a `Float32Array` of `numLabels` for several. */
export type Score<NumLabels extends number> = NumLabels extends 1
  ? number
  : number extends NumLabels
    ? number | Float32Array
    : Float32Array;

/** Row-major `[pairs, numLabels]` scores as `predict` returns them. */
export function toScores(values: Float32Array, numLabels: number): Float32Array | Float32Array[] {
  if (numLabels === 1) return values;
  return Array.from({ length: values.length / numLabels }, (_, i) => values.slice(i * numLabels, (i + 1) * numLabels));
}
