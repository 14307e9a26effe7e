/**
 * Scoring one request's pairs: tokenized with the request's model (a slice at a time, yielding to
 * the event loop between slices), queued in the batcher with every other request's, and read
 * back as one logit row per pair (the best window's, for long documents).
 */
import { setImmediate as setImmediatePromise } from 'node:timers/promises';

import type { CrossEncoder, Pair } from '../model/cross-encoder.js';
import { checkLongDocumentOptions, encodeWindowedPairs, type LongDocumentOptions, maxOverWindows } from '../model/long-documents.js';
import type { PairEncoding } from '../tokenizer/tokenizer.js';

import type { DynamicBatcher } from './batcher.js';
import { HttpError } from './errors.js';
import type { ServingMetrics } from './metrics.js';

/** How a request's pairs are tokenized. */
export interface PairScoringOptions {
  /** False: a pair longer than the maximum input length is refused (422) instead of truncated (TEI's `truncate`). */
  truncate: boolean;
  /** Score long documents as windows (Cohere's `max_tokens_per_doc`). */
  longDocuments?: LongDocumentOptions;
  /** Tokens per pair at most; undefined: the model's `maxLength`. */
  maxInputLength: number | undefined;
  /** Aborted when the client goes away: the request's waiting work is dropped. */
  signal: AbortSignal;
  /** Reranking: the model must give one relevance score per pair (else a 422). */
  reranking: boolean;
}

/** A request's scores. */
export interface ScoredPairs {
  /** The model that scored them. */
  model: CrossEncoder;
  /** Raw logits, row-major `[pairs.length, numLabels]`, in input order. */
  logits: Float32Array;
  /** Encodings run (more than the pairs when long documents were windowed). */
  encodings: number;
  /** Tokens run, padding excluded. */
  tokens: number;
}

// Pairs tokenized between two yields to the event loop: ~3-10 ms of work for passages.
const ENCODE_SLICE = 32;

/**
 * Scores `pairs` through the batcher with the model it currently serves.
 * @throws HttpError 422 for a pair too long with `truncate: false` or a reranking with a
 *   several-label model; CancelledError when `signal`
 *   aborts; what the batcher throws (503 before a model is loaded).
 */
export function scorePairs(
  batcher: DynamicBatcher,
  pairs: readonly Pair[],
  options: PairScoringOptions,
  metrics?: ServingMetrics,
): Promise<ScoredPairs> {
  return batcher.use(async (model) => {
    if (options.reranking && model.numLabels !== 1) {
      throw new HttpError(422, 'Validation', `reranking needs a model with one label (a relevance score); this one has ${model.numLabels}: use /predict`);
    }
    const maxLength = Math.min(options.maxInputLength ?? model.maxLength, model.maxLength);
    const started = performance.now();
    let encodings: PairEncoding[];
    let owners: Int32Array | undefined;
    if (options.longDocuments !== undefined) {
      const longDocuments = checkLongDocumentOptions(options.longDocuments, model.numLabels, 'max_tokens_per_doc');
      ({ encodings, owners } = await encodeWindowedPairs({ tokenizer: model.tokenizer, maxLength, numLabels: model.numLabels }, pairs, longDocuments, options.signal));
    } else {
      encodings = await encodePairs(model, pairs, maxLength, options);
    }
    let tokens = 0;
    for (const encoding of encodings) {
      tokens += encoding.inputIds.length;
      metrics?.inputLength.observe(encoding.inputIds.length);
    }
    metrics?.tokenizationDuration.observe((performance.now() - started) / 1000);

    const scored = await batcher.submit(model, encodings, options.signal);
    metrics?.queueDuration.observe(scored.queueSeconds);
    metrics?.inferenceDuration.observe(scored.inferenceSeconds);
    const logits = owners === undefined ? scored.logits : maxOverWindows(scored.logits, owners, pairs.length);
    return { model, logits, encodings: encodings.length, tokens };
  });
}

async function encodePairs(model: CrossEncoder, pairs: readonly Pair[], maxLength: number, options: PairScoringOptions): Promise<PairEncoding[]> {
  const encodings: PairEncoding[] = [];
  for (let start = 0; start < pairs.length; start += ENCODE_SLICE) {
    if (start > 0) await setImmediatePromise();
    options.signal.throwIfAborted();
    for (const [query, document] of pairs.slice(start, start + ENCODE_SLICE)) {
      if (options.truncate) {
        encodings.push(model.tokenizer.encodePair(query, document, maxLength));
        continue;
      }
      // One token more than allowed tells a pair that fits (then whole, as truncation would
      // leave it) from one that does not.
      const encoding = model.tokenizer.encodePair(query, document, maxLength + 1);
      if (encoding.inputIds.length > maxLength) {
        throw new HttpError(
          422,
          'Validation',
          `input ${encodings.length} is longer than the maximum input length of ${maxLength} tokens; send "truncate": true to have it truncated`,
        );
      }
      encodings.push(encoding);
    }
  }
  return encodings;
}
