/**
 * Inference parity of the model families (RoBERTa, XLM-RoBERTa, ELECTRA, ModernBERT with cls and
 * mean pooling) with PyTorch: the native model against test/reference/family_reference.py, plain
 * PyTorch written after transformers' modeling_<family>.py, on the same token ids (the official
 * Rust tokenizer's, so that this file tests the models, not our tokenizers).
 *
 * Tolerance: max(K × PyTorch's own spread, 1e-5), the spread measured in the same run over the
 * reference's variants (1 and 2 threads, batches of 1 and 3, extra padding, reversed order). Every
 * mutation of the reference (a layer-norm eps, one weight, a logit shift, and one bug per family:
 * BERT's positions for RoBERTa, tanh in ELECTRA's head, another attention window or pooling for
 * ModernBERT) must land beyond it, so the comparison is shown to fail on real bugs.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import type { ConfigJson } from '../lib/model/config.js';
import { modelFamily } from '../lib/model/families/index.js';
import { type NativeBatch, NativeModel } from '../lib/native.js';

import { type FamilyMutation, type FamilyPredictAnswer, type FamilyTestModelName, familyPredict, padBatch, rustEncode, testModel } from './helpers/models.js';

const K = 5;
const FLOOR = 1e-5;

const PROSE = 'The quick brown fox jumps over the lazy dog while the search engine reranks documents for a query';
/** A document of roughly `words` words, varied so that attention is not uniform. */
const longDocument = (words: number) => Array.from({ length: words }, (_, i) => PROSE.split(' ')[(i * 7) % 19] + (i % 11 === 0 ? '.' : '')).join(' ');

const PAIRS: [string, string][] = [
  ['How many people live in Berlin?', 'Berlin has 3.5 million inhabitants.'],
  ['what is a cross-encoder', 'A cross-encoder reads the query and the document together.'],
  ['empty document', ''],
  ['Crème brûlée à la française', 'Ångström, naïve façade, Straße — İstanbul!'],
  ['東京の人口は?', '東京都の人口は約1400万人です。 ｶﾞｷﾞｸﾞ 😀👍🏽'],
  ['long', longDocument(90)],
  ['q', longDocument(40)],
];

interface Case {
  name: FamilyTestModelName;
  /** The family's own bug, besides the common mutations. */
  mutations: FamilyMutation[];
}

const COMMON: FamilyMutation[] = [{ layer_norm_eps: 1e-3 }, { logit_shift: 1e-4 }];

const CASES: Case[] = [
  { name: 'tiny-roberta', mutations: [{ arange_positions: true }] },
  { name: 'tiny-xlm-roberta', mutations: [{ arange_positions: true }] },
  { name: 'tiny-electra', mutations: [{ head_activation: 'tanh' }] },
  { name: 'tiny-modernbert', mutations: [{ config: { local_attention: 16 } }, { config: { classifier_pooling: 'mean' } }, { config: { global_rope_theta: 10000 } }] },
  { name: 'tiny-modernbert-mean', mutations: [{ config: { classifier_pooling: 'cls' } }, { config: { local_attention: 4 } }] },
];

interface Run {
  config: ConfigJson;
  batch: ReturnType<typeof padBatch>;
  ours: number[][];
  oursInThrees: number[][];
  oursPadded: number[][];
  reference: FamilyPredictAnswer;
  tolerance: number;
}

function nativeBatch(rows: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] }): NativeBatch {
  const seqLength = rows.input_ids[0].length;
  const flat = (m: number[][]) => Int32Array.from(m.flat());
  return { inputIds: flat(rows.input_ids), tokenTypeIds: flat(rows.token_type_ids), attentionMask: flat(rows.attention_mask), batchSize: rows.input_ids.length, seqLength };
}

function rowsOf(logits: Float32Array, numLabels: number): number[][] {
  return Array.from({ length: logits.length / numLabels }, (_, i) => Array.from(logits.subarray(i * numLabels, (i + 1) * numLabels)));
}

function slice(rows: ReturnType<typeof padBatch>, start: number, end: number): ReturnType<typeof padBatch> {
  const part = { input_ids: rows.input_ids.slice(start, end), token_type_ids: rows.token_type_ids.slice(start, end), attention_mask: rows.attention_mask.slice(start, end) };
  // Trimmed to the part's longest row, as a batch of its own would be.
  const width = Math.max(...part.attention_mask.map((mask) => mask.reduce((a, b) => a + b, 0)));
  return { input_ids: part.input_ids.map((r) => r.slice(0, width)), token_type_ids: part.token_type_ids.map((r) => r.slice(0, width)), attention_mask: part.attention_mask.map((r) => r.slice(0, width)) };
}

function maxDifference(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((row, i) => row.forEach((value, j) => (worst = Math.max(worst, Math.abs(value - b[i][j])))));
  return worst;
}

const runs = new Map<string, Run>();

beforeAll(async () => {
  for (const { name, mutations } of CASES) {
    const dir = testModel(name);
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as ConfigJson;
    const family = modelFamily(config, 'config.json');
    const native = new NativeModel(family.nativeConfig(config, 1, 'config.json'));
    const report = await native.loadWeights(path.join(dir, 'model.safetensors'));
    expect(report.missing, name).toEqual([]);
    const batch = padBatch(await rustEncode(dir, PAIRS), config.pad_token_id as number);
    const ours = rowsOf(await native.forward(nativeBatch(batch)), 1);
    const oursInThrees: number[][] = [];
    for (let start = 0; start < PAIRS.length; start += 3) {
      oursInThrees.push(...rowsOf(await native.forward(nativeBatch(slice(batch, start, start + 3))), 1));
    }
    const extra = 6;
    const padded = {
      input_ids: batch.input_ids.map((r) => [...r, ...new Array<number>(extra).fill(config.pad_token_id as number)]),
      token_type_ids: batch.token_type_ids.map((r) => [...r, ...new Array<number>(extra).fill(0)]),
      attention_mask: batch.attention_mask.map((r) => [...r, ...new Array<number>(extra).fill(0)]),
    };
    const oursPadded = rowsOf(await native.forward(nativeBatch(padded)), 1);
    await native.dispose();
    const reference = await familyPredict(dir, {
      ...batch,
      batch_sizes: [1, 3],
      threads: [1, 2],
      extra_padding: [5],
      reverse: true,
      mutations: [...COMMON, { weight_delta: { name: firstWeight(config), index: 3, delta: 1e-2 } }, ...mutations],
    });
    runs.set(name, { config, batch, ours, oursInThrees, oursPadded, reference, tolerance: Math.max(K * reference.spread, FLOOR) });
  }
}, 300_000);

/** A weight every family's pairs depend on: the first layer's attention input projection. */
function firstWeight(config: ConfigJson): string {
  switch (config.model_type) {
    case 'modernbert':
      return 'model.layers.0.attn.Wqkv.weight';
    case 'electra':
      return 'electra.encoder.layer.0.attention.self.query.weight';
    default:
      return 'roberta.encoder.layer.0.attention.self.query.weight';
  }
}

describe.each(CASES.map((c) => c.name))('%s', (name) => {
  const run = () => runs.get(name)!;

  it('the pairs span what the family must handle: lengths, an empty document, unicode', () => {
    const lengths = run().batch.attention_mask.map((mask) => mask.reduce((a, b) => a + b, 0));
    expect(Math.max(...lengths)).toBeGreaterThan(100);
    expect(Math.min(...lengths)).toBeLessThan(12);
    const logits = run().ours.flat();
    expect(logits.every(Number.isFinite)).toBe(true);
    // Not degenerate: the pairs get different scores.
    expect(Math.max(...logits) - Math.min(...logits)).toBeGreaterThan(1e-3);
  });

  it("scores every pair within PyTorch's own spread of the reference, in one batch and in batches of 3", () => {
    const { ours, oursInThrees, reference, tolerance } = run();
    expect(maxDifference(ours, reference.logits), `tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
    expect(maxDifference(oursInThrees, reference.logits), `tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
  });

  it('does not depend on padding: extra pad positions give the same scores', () => {
    const { ours, oursPadded, tolerance } = run();
    expect(maxDifference(oursPadded, ours)).toBeLessThanOrEqual(tolerance);
  });

  it('the comparison fails on each deliberate bug of the reference', () => {
    const { ours, reference, tolerance } = run();
    const gaps = reference.logits_by_mutation!.map((mutated) => maxDifference(ours, mutated));
    for (const gap of gaps) expect(gap).toBeGreaterThan(tolerance);
  });
});
