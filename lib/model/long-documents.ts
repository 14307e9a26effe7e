/**
 * Long documents scored as windows: instead of truncating a document that does not fit next to
 * the query, it is cut into overlapping windows of the document's tokens, each scored next to the
 * query, and the best window's score is the document's (max pooling, as Cohere's rerank does with
 * its chunks). Opt-in through `longDocuments` in `predict`/`rank` and `max_tokens_per_doc` in the
 * service's Cohere routes.
 */
import { throwIfAborted } from '../abort.js';
import { InvalidArgumentError } from '../errors.js';
import type { CrossEncoderTokenizer, PairEncoding } from '../tokenizer/tokenizer.js';

import { TimeSlice } from './time-slice.js';

/** How long documents are read and cut (see {@link encodeWindows}). */
export interface LongDocumentOptions {
  /**
   * Tokens of each document that are read; the rest is ignored (Cohere's `max_tokens_per_doc`).
   * Default 4096, Cohere's default.
   */
  maxTokensPerDoc?: number;
  /**
   * Tokens shared by consecutive windows (Hugging Face's `stride`), so a passage cut by one
   * window's edge is whole in the next. Default: 128, or half the window when that is smaller.
   */
  stride?: number;
}

/** What the windows of a model are cut to fit. */
export interface WindowedModel {
  readonly tokenizer: CrossEncoderTokenizer;
  readonly maxLength: number;
  readonly numLabels: number;
}

/** The windows of several pairs, and the pair each window belongs to. */
export interface WindowedPairs {
  encodings: PairEncoding[];
  /** `owners[i]` is the index of the pair `encodings[i]` is a window of. */
  owners: Int32Array;
}

export const DEFAULT_MAX_TOKENS_PER_DOC = 4096;
const DEFAULT_STRIDE = 128;

/**
 * Checks `longDocuments` options; `where` names them in errors (`options.longDocuments`).
 * @throws InvalidArgumentError for an unknown option, a non-integer or out-of-range value, or a
 *   model with more than one label (a window's maximum needs one relevance score).
 */
export function checkLongDocumentOptions(options: unknown, numLabels: number, where: string): Required<Pick<LongDocumentOptions, 'maxTokensPerDoc'>> & LongDocumentOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError(`${where} must be an object like { maxTokensPerDoc, stride }, got ${JSON.stringify(options)}`);
  }
  const unknown = Object.keys(options).filter((key) => key !== 'maxTokensPerDoc' && key !== 'stride');
  if (unknown.length > 0) throw new InvalidArgumentError(`${where} has unknown option(s) ${unknown.join(', ')} (known: maxTokensPerDoc, stride)`);
  if (numLabels !== 1) {
    throw new InvalidArgumentError(`${where} needs a model with one label (a relevance score to take the maximum of); this model has ${numLabels}`);
  }
  const { maxTokensPerDoc = DEFAULT_MAX_TOKENS_PER_DOC, stride } = options as LongDocumentOptions;
  if (!Number.isInteger(maxTokensPerDoc) || maxTokensPerDoc < 1) {
    throw new InvalidArgumentError(`${where}.maxTokensPerDoc must be a positive integer, got ${maxTokensPerDoc}`);
  }
  if (stride !== undefined && (!Number.isInteger(stride) || stride < 0)) {
    throw new InvalidArgumentError(`${where}.stride must be an integer ≥ 0, got ${stride}`);
  }
  return { maxTokensPerDoc, stride };
}

/**
 * The encodings a (query, document) pair is scored as:
 * - one when the document (its first `maxTokensPerDoc` tokens) fits next to the query: for a
 *   document read whole, `encodePair`'s, so the score is predict's;
 * - otherwise windows of the document's first `maxTokensPerDoc` tokens, each next to the query
 *   (cut to half the budget when it is longer): the window is as long as the rest of the budget
 *   allows, consecutive windows share `stride` tokens, and the last one ends at the document's
 *   end (so no window is a short tail).
 * @throws InvalidArgumentError when `stride` is not smaller than the window.
 */
export function encodeWindows(model: WindowedModel, query: string, document: string, options: LongDocumentOptions): PairEncoding[] {
  const { tokenizer, maxLength } = model;
  const maxTokensPerDoc = options.maxTokensPerDoc ?? DEFAULT_MAX_TOKENS_PER_DOC;
  const budget = maxLength - tokenizer.numSpecialTokens;
  const queryIds = tokenizer.encodeText(query, budget);
  const documentIds = tokenizer.encodeText(document, maxTokensPerDoc);
  // The query keeps what longest_first would give it against a long document, and all of it when
  // the document leaves room.
  const queryKeep = Math.min(queryIds.length, Math.max(Math.floor(budget / 2), budget - documentIds.length));
  const window = budget - queryKeep;
  if (documentIds.length <= window) {
    // Read whole, the document is scored exactly as predict scores it.
    if (documentIds.length < maxTokensPerDoc) return [tokenizer.encodePair(query, document, maxLength)];
    return [tokenizer.pairFromIds(queryIds.slice(0, queryKeep), documentIds)];
  }

  const stride = options.stride ?? Math.min(DEFAULT_STRIDE, Math.floor(window / 2));
  if (stride >= window) {
    throw new InvalidArgumentError(
      `longDocuments.stride (${stride}) must be smaller than the window: ${window} document tokens fit next to this query in maxLength ${maxLength}`,
    );
  }
  const step = window - stride;
  const queryPart = queryIds.slice(0, queryKeep);
  const windows: PairEncoding[] = [];
  for (let start = 0; ; start += step) {
    const from = Math.min(start, documentIds.length - window);
    windows.push(tokenizer.pairFromIds(queryPart, documentIds.slice(from, from + window)));
    if (from + window >= documentIds.length) return windows;
  }
}

/**
 * The windows of every pair ({@link encodeWindows}), yielding to the event loop every few
 * milliseconds (see time-slice.ts). `signal` stops the work at a yield.
 */
export async function encodeWindowedPairs(
  model: WindowedModel,
  pairs: ReadonlyArray<readonly [string, string]>,
  options: LongDocumentOptions,
  signal?: AbortSignal,
): Promise<WindowedPairs> {
  const encodings: PairEncoding[] = [];
  const owners: number[] = [];
  const slice = new TimeSlice();
  const where = () => `predict() of ${pairs.length} long-document pairs, while cutting windows`;
  throwIfAborted(signal, where);
  for (let index = 0; index < pairs.length; index++) {
    if (slice.due()) {
      await slice.yieldNow();
      throwIfAborted(signal, where);
    }
    const [query, document] = pairs[index];
    for (const encoding of encodeWindows(model, query, document, options)) {
      encodings.push(encoding);
      owners.push(index);
    }
  }
  return { encodings, owners: Int32Array.from(owners) };
}

/** Each pair's best window: the maximum of one-label `logits` (one per window) by owner. */
export function maxOverWindows(logits: Float32Array, owners: Int32Array, pairCount: number): Float32Array {
  const best = new Float32Array(pairCount).fill(-Infinity);
  owners.forEach((owner, window) => {
    if (logits[window] > best[owner] || Number.isNaN(logits[window])) best[owner] = logits[window];
  });
  return best;
}
