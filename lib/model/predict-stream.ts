/**
 * Scoring a stream of pairs: a file larger than memory, a database cursor. Pairs are read a
 * chunk at a time, each chunk is scored as one `predict` call (so it is length-sorted into
 * batches as predict does), and the scores come out one per pair, in input order. At most one
 * chunk is held: the next is read only once the consumer has taken the previous chunk's scores.
 */
import { InvalidArgumentError } from '../errors.js';

import { checkPair, type Pair } from './pairs.js';

/** What the stream scores each chunk with: a CrossEncoder's `predict`. */
type ChunkScorer<Options> = (pairs: readonly Pair[], options: Options) => Promise<Float32Array | Float32Array[]>;

const CHUNK_BATCHES = 8;
const DEFAULT_BATCH_SIZE = 32;

/** Yields one score (a number, or a `Float32Array` for several labels) per pair of `pairs`, in order. */
export async function* scoreStream<Options extends { batchSize?: number }>(
  pairs: AsyncIterable<Pair> | Iterable<Pair>,
  options: Options & { chunkSize?: number },
  score: ChunkScorer<Options>,
): AsyncGenerator<number | Float32Array, void, undefined> {
  if (pairs === null || typeof pairs !== 'object' || !(Symbol.asyncIterator in pairs || Symbol.iterator in pairs)) {
    throw new InvalidArgumentError('predictStream(pairs): pairs must be an iterable or async iterable of [query, document] pairs');
  }
  const { chunkSize = CHUNK_BATCHES * (options.batchSize ?? DEFAULT_BATCH_SIZE), ...predictOptions } = options;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new InvalidArgumentError(`predictStream(): chunkSize must be a positive integer, got ${chunkSize}`);
  }
  let chunk: Pair[] = [];
  let index = 0;
  for await (const pair of pairs) {
    checkPair(pair, `pairs[${index}]`);
    index += 1;
    chunk.push(pair);
    if (chunk.length === chunkSize) {
      yield* await score(chunk, predictOptions as Options);
      chunk = [];
    }
  }
  if (chunk.length > 0) yield* await score(chunk, predictOptions as Options);
}
