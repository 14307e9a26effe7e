/**
 * The service's dynamic batcher (lib/serving/batcher.ts) without HTTP: how forwards are packed,
 * that concurrent requests share forwards and still get exactly their own scores (those of
 * `predict`, to float rounding), cancellation, errors, and model swaps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CancelledError, CrossEncoder, type Pair } from '../lib/index.js';
import { DynamicBatcher } from '../lib/serving/batcher.js';
import { ServingMetrics } from '../lib/serving/metrics.js';
import { packForward } from '../lib/serving/pack-forward.js';
import { scorePairs } from '../lib/serving/scoring.js';
import type { PairEncoding } from '../lib/tokenizer/tokenizer.js';

import { metricValue } from './helpers/http.js';
import { testModel } from './helpers/models.js';

const SENTENCE = 'Berlin is the capital and largest city of Germany, both by area and by population. ';

/** Pairs from 1 to `sentences` sentences (~17 tokens each) long: forwards of very different shapes. */
function variedPairs(count: number, offset = 0, sentences = 40): Pair[] {
  return Array.from({ length: count }, (_, i) => [`query ${i + offset}: how large is Berlin?`, `${SENTENCE.repeat(1 + ((i * 7 + offset) % sentences))}(${i})`]);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst, `largest difference ${worst}`).toBeLessThanOrEqual(tolerance);
}

const neverAborted = new AbortController().signal;
const plain = { truncate: true, maxInputLength: undefined, signal: neverAborted, reranking: false };

describe('packForward', () => {
  it('always takes the oldest pair and fills the budget with the pairs nearest to it in length', () => {
    // Oldest first: 50 tokens, then pairs of every length.
    const lengths = [50, 10, 200, 48, 52, 49, 300, 51];
    const picked = packForward(lengths, 200, 32);
    expect(picked).toContain(0);
    const longest = Math.max(...picked.map((i) => lengths[i]));
    expect(picked.length * longest).toBeLessThanOrEqual(200);
    // 4 pairs of at most 50 tokens fit: the shorter neighbours come first (they add no padding).
    expect(picked.map((i) => lengths[i])).toEqual([50, 49, 48, 10]);
  });

  it('respects the pair limit, lets a pair longer than the budget run alone, and keeps arrival order on ties', () => {
    expect(packForward([5, 5, 5, 5, 5], 1000, 3)).toEqual([0, 1, 2]);
    expect(packForward([900, 10, 10], 500, 32)).toEqual([0]);
    expect(packForward([], 100, 4)).toEqual([]);
  });

  it('extends toward longer pairs when no shorter one fits', () => {
    const lengths = [10, 30, 20];
    expect(packForward(lengths, 90, 32).map((i) => lengths[i])).toEqual([30, 20, 10]);
    expect(packForward(lengths, 60, 32).map((i) => lengths[i])).toEqual([20, 10]);
  });
});

describe('DynamicBatcher', () => {
  let tiny: CrossEncoder;
  let gelu: CrossEncoder;
  beforeAll(async () => {
    [tiny, gelu] = await Promise.all([CrossEncoder.fromPretrained(testModel('tiny')), CrossEncoder.fromPretrained(testModel('tiny-gelu-new'))]);
  });
  afterAll(async () => {
    await Promise.all([tiny?.dispose?.(), gelu?.dispose?.()]);
  });

  it.each(['tiny', 'minilm-l6'] as const)('gives concurrent requests the scores predict gives them (%s)', async (name) => {
    const model = name === 'tiny' ? tiny : await CrossEncoder.fromPretrained(testModel('minilm-l6'));
    const metrics = new ServingMetrics({ collectDefaultMetrics: false });
    const batcher = new DynamicBatcher(model, { maxBatchTokens: 1024, batchSize: 32, metrics });
    // MiniLM-L6 with shorter pairs, to keep the suite quick.
    const requests = Array.from({ length: 6 }, (_, r) => (name === 'tiny' ? variedPairs(12, r * 13) : variedPairs(5, r * 13, 12)));
    const scored = await Promise.all(requests.map((pairs) => scorePairs(batcher, pairs, plain, metrics)));
    const expected = await Promise.all(requests.map((pairs) => model.predict(pairs, { activation: 'identity' }) as Promise<Float32Array>));
    scored.forEach((result, r) => expectClose(result.logits, expected[r], 1e-5));
    // Shared forwards: fewer forwards than requests would need alone.
    const text = await metrics.registry.metrics();
    expect(metricValue(text, 'te_batch_next_size_sum')).toBe(requests.flat().length);
    if (name === 'minilm-l6') await model.dispose?.();
  });

  it('packs pairs of concurrent requests into the same forwards, each caller getting its own rows', async () => {
    const metrics = new ServingMetrics({ collectDefaultMetrics: false });
    const batcher = new DynamicBatcher(tiny, { maxBatchTokens: 16384, batchSize: 64, metrics });
    const requests = Array.from({ length: 8 }, (_, r) => variedPairs(2, r * 5));
    const encode = (pairs: Pair[]) => pairs.map(([q, d]) => tiny.tokenizer.encodePair(q, d, tiny.maxLength));
    // Submitted in one tick: the first starts a forward alone, the other seven wait and share one.
    const results = await Promise.all(requests.map((pairs) => batcher.submit(tiny, encode(pairs))));
    const text = await metrics.registry.metrics();
    expect(metricValue(text, 'te_batch_next_size_count')).toBe(2);
    expect(metricValue(text, 'te_batch_next_size_sum')).toBe(16);
    for (const [r, result] of results.entries()) {
      expectClose(result.logits, (await tiny.predict(requests[r], { activation: 'identity' })) as Float32Array, 1e-5);
    }
  });

  it('drops the waiting pairs of a cancelled request and goes on with the others', async () => {
    const metrics = new ServingMetrics({ collectDefaultMetrics: false });
    const batcher = new DynamicBatcher(tiny, { maxBatchTokens: 256, batchSize: 4, metrics });
    const encode = (pairs: Pair[]) => pairs.map(([q, d]) => tiny.tokenizer.encodePair(q, d, tiny.maxLength));
    const first = batcher.submit(tiny, encode(variedPairs(8)));
    const controller = new AbortController();
    const cancelled = batcher.submit(tiny, encode(variedPairs(40, 100)), controller.signal);
    expect(batcher.queueSize).toBeGreaterThan(40);
    controller.abort();
    await expect(cancelled).rejects.toBeInstanceOf(CancelledError);
    expect(batcher.queueSize).toBeLessThanOrEqual(8);
    await first;
    expect(batcher.queueSize).toBe(0);
    // Only the first request's 8 pairs ever ran.
    expect(metricValue(await metrics.registry.metrics(), 'te_batch_next_size_sum')).toBe(8);
    // An already aborted signal never queues anything.
    await expect(batcher.submit(tiny, encode(variedPairs(2)), controller.signal)).rejects.toBeInstanceOf(CancelledError);
    expect(batcher.queueSize).toBe(0);
  });

  it('rejects the requests of a failed forward and keeps serving', async () => {
    const batcher = new DynamicBatcher(tiny, { maxBatchTokens: 1024, batchSize: 32 });
    const good = tiny.tokenizer.encodePair('q', 'a document', tiny.maxLength);
    // A token id past the vocabulary: libtorch's embedding lookup refuses it.
    const bad: PairEncoding = { inputIds: Int32Array.from([101, 10 ** 6, 102]), tokenTypeIds: new Int32Array(3) };
    await expect(batcher.submit(tiny, [bad])).rejects.toThrow(/token id/);
    const after = await batcher.submit(tiny, [good]);
    expectClose(after.logits, (await tiny.predict([['q', 'a document']], { activation: 'identity' })) as Float32Array, 1e-5);
  });

  it('swaps models between forwards: queued requests finish on their model, new ones get the new one', async () => {
    const metrics = new ServingMetrics({ collectDefaultMetrics: false });
    const batcher = new DynamicBatcher(tiny, { maxBatchTokens: 256, batchSize: 4, metrics });
    const pairs = variedPairs(10);
    const onTiny = scorePairs(batcher, pairs, plain);
    // Let it tokenize and queue, then swap while its forwards run.
    await new Promise((resolve) => setImmediate(resolve));
    let swapped = false;
    const swap = batcher.swapModel(gelu).then((previous) => ((swapped = true), previous));
    const onGelu = scorePairs(batcher, pairs, plain);
    expect(batcher.model).toBe(gelu);
    // The tiny request still has forwards to run: the swap waits for it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(swapped).toBe(false);
    const [tinyResult, geluResult] = await Promise.all([onTiny, onGelu]);
    expect(await swap).toBe(tiny);
    expect(swapped).toBe(true);
    expect(tinyResult.model).toBe(tiny);
    expect(geluResult.model).toBe(gelu);
    expectClose(tinyResult.logits, (await tiny.predict(pairs, { activation: 'identity' })) as Float32Array, 1e-5);
    expectClose(geluResult.logits, (await gelu.predict(pairs, { activation: 'identity' })) as Float32Array, 1e-5);
    expect(metricValue(await metrics.registry.metrics(), 'crossencoder_model_swaps_total')).toBe(1);
  });

  it('answers 503 before a model is set and after close', async () => {
    const batcher = new DynamicBatcher(undefined, { maxBatchTokens: 256, batchSize: 4 });
    await expect(scorePairs(batcher, variedPairs(1), plain)).rejects.toMatchObject({ statusCode: 503, errorType: 'Unhealthy' });
    await batcher.swapModel(tiny);
    expect((await scorePairs(batcher, variedPairs(1), plain)).logits).toHaveLength(1);
    await batcher.close();
    await expect(scorePairs(batcher, variedPairs(1), plain)).rejects.toMatchObject({ statusCode: 503 });
  });
});
