/**
 * Loss parity with Sentence Transformers: every loss of the catalogue against
 * test/reference/st_losses.py, a plain-PyTorch transcription of ST v5.1's
 * sentence_transformers/cross_encoder/losses/*.py.
 * (a) value and gradient w.r.t. the logits on random logits and labels with ties, padding
 *     (lists of different lengths), all-zero label lists and several list lengths. Tolerance:
 *     PyTorch's own spread, the same formula evaluated in float32 and in float64 from the same
 *     float32 inputs: |ours - PyTorch float32| <= max(K * |f32 - f64|, FLOOR_ULPS ulps of the value).
 * (b) a 10-step training run per loss on the tiny model, step for step (loss, grad norm, learning
 *     rate, final weights) under the spread of PyTorch's variants (2 threads, extra padding), with
 *     the machinery of training-parity.test.ts (test/helpers/training-parity.ts).
 * (c) mutation checks: a deliberately wrong reference (a sigma 10% off, NDCGLoss2's discount one
 *     position off, ListNet's padded labels unmasked, PListMLE's padding left out of the
 *     denominators, MarginMSE on raw scores, MNRL's scale off by 1, ADRMSE's ties ranked by
 *     argsort) must fail (a).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ADRMSELoss,
  CachedMultipleNegativesRankingLoss,
  CrossEncoder,
  type CrossEncoderLoss,
  LambdaLoss,
  LambdaRankScheme,
  ListMLELoss,
  ListNetLoss,
  MarginMSELoss,
  MSELoss,
  MultipleNegativesRankingLoss,
  NDCGLoss1Scheme,
  NDCGLoss2Scheme,
  PListMLELoss,
  RankNetLoss,
} from '../lib/index.js';
import { mulberry32 } from '../lib/datasets.js';
import { type NativeLossBatch, type NativeLossOptions, probeLoss } from '../lib/native.js';

import { copyWithoutDropout } from './helpers/models.js';
import { runPythonJson } from './helpers/python.js';
import { readSafetensorsF32 } from './helpers/safetensors.js';
import { checkedSpread, F32_EPSILON, FLOOR_ULPS, K, largestChange, parityMismatches, type Reference, type ReferenceRun, trainRecorded } from './helpers/training-parity.js';

const TIMEOUT = 90_000;

// ---------------------------------------------------------------------------------------------
// (a) value and gradient on logits
// ---------------------------------------------------------------------------------------------
interface Probe {
  title: string;
  options: NativeLossOptions;
  logits: number[];
  batch: NativeLossBatch;
  /** What st_losses.py needs besides the logits. */
  layout: Record<string, unknown>;
}

/** A token chunk whose pairs stand for logits rows `first..first + n - 1` (see probeLoss). */
function idChunk(first: number, n: number) {
  return {
    inputIds: Int32Array.from({ length: n }, (_, i) => first + i),
    tokenTypeIds: new Int32Array(n),
    attentionMask: new Int32Array(n).fill(1),
    batchSize: n,
    seqLength: 1,
  };
}

/** Chunks of at most `size` pairs over `total` pairs. */
function idChunks(total: number, size: number) {
  const chunks = [];
  for (let s = 0; s < total; s += size) chunks.push(idChunk(s, Math.min(size, total - s)));
  return chunks;
}

const random = mulberry32(12);
/** Logits in [-3, 3], a third of them on a coarse grid so that ties occur. */
function randomLogits(n: number): number[] {
  return Array.from({ length: n }, () => (random() < 0.33 ? Math.round(random() * 4) / 2 - 1 : Math.fround(random() * 6 - 3)));
}
/** Graded labels 0..3 with ties; the second list all zero. */
function randomLabels(sizes: number[]): number[] {
  return sizes.flatMap((n, q) => Array.from({ length: n }, () => (q === 1 ? 0 : Math.floor(random() * 4))));
}

function listwiseProbes(loss: string, lossOptions: NativeLossOptions['lossOptions'], title: string): Probe[] {
  return [
    [3, 1, 5, 2],
    [4, 4, 4],
    [1, 1],
    [6, 2, 1, 3, 7],
  ].map((sizes) => {
    const total = sizes.reduce((a, b) => a + b, 0);
    const labels = randomLabels(sizes);
    return {
      title: `${title}, lists of ${sizes.join('/')}`,
      options: { loss, lossOptions },
      logits: randomLogits(total),
      batch: { chunks: idChunks(total, sizes.length), rows: sizes.length, labels: Float32Array.from(labels), groupSizes: Int32Array.from(sizes) },
      layout: { group_sizes: sizes, labels },
    };
  });
}

const NDCG2PP = { weightingScheme: 'ndcg_loss2pp', mu: 10, sigma: 1, eps: 1e-10, reductionLog: 'binary', activationFn: 'identity', k: null };
const PROBES: Probe[] = [
  ...listwiseProbes('lambda_loss', NDCG2PP, 'LambdaLoss NDCGLoss2PPScheme'),
  ...listwiseProbes('lambda_loss', { ...NDCG2PP, weightingScheme: 'ndcg_loss2', k: 3, sigma: 1.5 }, 'LambdaLoss NDCGLoss2Scheme, k 3, sigma 1.5'),
  ...listwiseProbes('lambda_loss', { ...NDCG2PP, weightingScheme: 'ndcg_loss1', reductionLog: 'natural' }, 'LambdaLoss NDCGLoss1Scheme, natural log'),
  ...listwiseProbes('lambda_loss', { ...NDCG2PP, weightingScheme: 'lambda_rank', activationFn: 'sigmoid' }, 'LambdaLoss LambdaRankScheme, sigmoid'),
  ...listwiseProbes('lambda_loss', { ...NDCG2PP, weightingScheme: 'none' }, 'RankNetLoss (NoWeightingScheme)'),
  ...listwiseProbes('list_net', { activationFn: 'identity' }, 'ListNetLoss'),
  ...listwiseProbes('plist_mle', { lambdaWeight: 'default', respectInputOrder: true, activationFn: 'identity' }, 'PListMLELoss'),
  ...listwiseProbes('plist_mle', { lambdaWeight: 'none', respectInputOrder: false, activationFn: 'identity' }, 'ListMLELoss, respectInputOrder false'),
  ...listwiseProbes('adr_mse', { alpha: 1, activationFn: 'identity' }, 'ADRMSELoss'),
  ...listwiseProbes('adr_mse', { alpha: 2.5, activationFn: 'sigmoid' }, 'ADRMSELoss, alpha 2.5, sigmoid'),
  ...[1, 3].map((negatives) => {
    const rows = 5;
    const width = negatives === 1 ? 1 : negatives + 1;
    const labels = randomLogits(rows * width);
    return {
      title: `MarginMSELoss, ${negatives} negatives, ${width} labels a row`,
      options: { loss: 'margin_mse', lossOptions: { activationFn: 'identity' } },
      logits: randomLogits(rows * (negatives + 1)),
      batch: { chunks: idChunks(rows * (negatives + 1), rows), rows, labels: Float32Array.from(labels), labelColumns: width },
      layout: { rows, labels, label_columns: width },
    };
  }),
  {
    title: 'MSELoss, sigmoid',
    options: { loss: 'mse', lossOptions: { activationFn: 'sigmoid' } },
    logits: randomLogits(6),
    batch: { chunks: [idChunk(0, 6)], rows: 6, labels: Float32Array.from([0, 1, 0.5, 0.25, 1, 0]) },
    layout: { rows: 6, labels: [0, 1, 0.5, 0.25, 1, 0] },
  },
  ...[null, 100].flatMap((numNegatives) => {
    const rows = 4;
    const logits = randomLogits(rows * rows);
    return ['multiple_negatives_ranking', 'cached_multiple_negatives_ranking'].map((loss) => {
      return {
        title: `${loss}, numNegatives ${numNegatives} (every other row)`,
        options: { loss, lossOptions: { numNegatives, scale: 10, activationFn: 'sigmoid', miniBatchSize: 3 } },
        logits,
        batch: mnrlIdBatch(rows, 1),
        layout: { rows, columns: 1 },
      };
    });
  }),
];

/** An MNRL probe batch: pair p of the grid carries id p. */
function mnrlIdBatch(rows: number, columns: number): NativeLossBatch {
  const n = rows * rows * columns;
  return {
    chunks: [],
    rows,
    columns,
    padTokenId: 0,
    candidates: { inputIds: Int32Array.from({ length: n }, (_, i) => i), tokenTypeIds: new Int32Array(n), offsets: Int32Array.from({ length: n + 1 }, (_, i) => i) },
  };
}

const PROBE_MUTATIONS: { title: string; probe: number; mutation: Record<string, unknown> }[] = [
  { title: 'LambdaLoss with sigma 10% off', probe: 0, mutation: { sigma_scale: 1.1 } },
  { title: "NDCGLoss2's |i - j| discount one position off", probe: 4, mutation: { scheme_shift: 1 } },
  { title: "ListNet's padded labels not masked (0 instead of -inf)", probe: 20, mutation: { no_label_mask: true } },
  { title: "PListMLE without ST's padded exp(1e-16) terms in the denominators", probe: 24, mutation: { no_padding_in_denominator: true } },
  { title: 'MarginMSE on the raw scores instead of the margins', probe: 41, mutation: { no_margin: true } },
  { title: "MNRL's scale off by 1", probe: 43, mutation: { scale_delta: 1 } },
  { title: "ADRMSE's tied labels ranked by argsort, not their average rank", probe: 32, mutation: { ordinal_ranks: true } },
];

interface ProbeAnswer {
  loss: number;
  gradient: number[];
}

/** JSON's null back to NaN (st_losses.py writes a NaN as null). */
function fromJson(answer: { loss: number | null; gradient: (number | null)[] }): ProbeAnswer {
  return { loss: answer.loss ?? NaN, gradient: answer.gradient.map((g) => g ?? NaN) };
}

/** |a - b|, 0 when both are NaN (ST's own NaN must be ours too). */
function gap(a: number, b: number): number {
  return Number.isNaN(a) && Number.isNaN(b) ? 0 : Math.abs(a - b);
}

function referenceProbe(p: Probe, dtype: string, mutation?: Record<string, unknown>) {
  return { loss: p.options.loss, options: p.options.lossOptions, logits: p.logits, dtype, mutation, ...p.layout };
}

/**
 * The gaps of ours to `expected` (PyTorch float32, or a mutated reference) against the tolerance
 * from PyTorch's float32-float64 spread of the correct formula.
 */
function probeGaps(ours: ProbeAnswer, expected: ProbeAnswer, f32: ProbeAnswer, f64: ProbeAnswer) {
  const valueTolerance = Math.max(K * gap(f32.loss, f64.loss), FLOOR_ULPS * F32_EPSILON * (Math.abs(f64.loss) || 0));
  let gradSpread = 0;
  let gradGap = 0;
  let gradMagnitude = 0;
  f64.gradient.forEach((g, i) => {
    gradSpread = Math.max(gradSpread, gap(f32.gradient[i], g));
    gradGap = Math.max(gradGap, gap(ours.gradient[i], expected.gradient[i]));
    gradMagnitude = Math.max(gradMagnitude, Math.abs(g) || 0);
  });
  const gradTolerance = Math.max(K * gradSpread, FLOOR_ULPS * F32_EPSILON * gradMagnitude);
  return { valueGap: gap(ours.loss, expected.loss), valueTolerance, gradGap, gradTolerance };
}

let probeAnswers: Promise<{ f32: ProbeAnswer[]; f64: ProbeAnswer[]; mutated: ProbeAnswer[] }>;
let oursProbes: Promise<ProbeAnswer[]>;
/** Mutation margins (gap / tolerance), printed at the end for the record. */
const margins: Record<string, number> = {};

// ---------------------------------------------------------------------------------------------
// (b) 10-step training runs
// ---------------------------------------------------------------------------------------------
const LIST_ROWS = [
  { query: 'how do I reset a password?', docs: ['open settings and click reset', 'invoices are emailed', 'the office is closed'], labels: [2, 0, 0] },
  { query: 'export audit logs', docs: ['admins export logs as csv'], labels: [1] },
  { query: 'restore a deleted project', docs: ['projects stay in the trash', 'open trash and click restore', 'team avatars', 'holidays'], labels: [1, 3, 0, 0] },
  { query: 'enable two-factor authentication', docs: ['scan the qr code', 'the release dashboard'], labels: [0, 0] },
  { query: 'change the billing email', docs: ['billing settings hold the email', 'logs are kept 90 days', 'use the api token'], labels: [2, 1, 1] },
  { query: 'invite a teammate', docs: ['send an invite from members', 'deployments show status'], labels: [1, 0] },
];
// A row whose negative were its positive (a list of one document) would give MarginMSE two
// exactly opposite gradients that cancel to rounding noise, which AdamW's normalisation then
// turns into a full step of either sign: such a row tests nothing but that noise.
const TRIPLETS = LIST_ROWS.map((r, i) => ({
  query: r.query,
  positive: r.docs[0],
  negative: r.docs.length > 1 ? r.docs[r.docs.length - 1] : LIST_ROWS[(i + 1) % LIST_ROWS.length].docs[1],
}));

interface TrainingCase {
  title: string;
  loss: (model: CrossEncoder) => CrossEncoderLoss;
  rows: object[];
}

const TRAINING: Record<string, TrainingCase> = {
  lambda_loss: { title: 'LambdaLoss (NDCGLoss2PPScheme)', loss: (m) => new LambdaLoss(m), rows: LIST_ROWS },
  lambda_rank: { title: 'LambdaLoss (LambdaRankScheme, k 2)', loss: (m) => new LambdaLoss(m, { weightingScheme: new LambdaRankScheme(), k: 2 }), rows: LIST_ROWS },
  ndcg1: { title: 'LambdaLoss (NDCGLoss1Scheme)', loss: (m) => new LambdaLoss(m, { weightingScheme: new NDCGLoss1Scheme() }), rows: LIST_ROWS },
  ndcg2: { title: 'LambdaLoss (NDCGLoss2Scheme, miniBatchSize 2)', loss: (m) => new LambdaLoss(m, { weightingScheme: new NDCGLoss2Scheme(), miniBatchSize: 2 }), rows: LIST_ROWS },
  rank_net: { title: 'RankNetLoss', loss: (m) => new RankNetLoss(m), rows: LIST_ROWS },
  list_net: { title: 'ListNetLoss', loss: (m) => new ListNetLoss(m), rows: LIST_ROWS },
  plist_mle: { title: 'PListMLELoss', loss: (m) => new PListMLELoss(m), rows: LIST_ROWS },
  list_mle: { title: 'ListMLELoss (respectInputOrder false)', loss: (m) => new ListMLELoss(m, { respectInputOrder: false }), rows: LIST_ROWS },
  adr_mse: { title: 'ADRMSELoss (alpha 2, miniBatchSize 4)', loss: (m) => new ADRMSELoss(m, { alpha: 2, miniBatchSize: 4 }), rows: LIST_ROWS },
  margin_mse: { title: 'MarginMSELoss', loss: (m) => new MarginMSELoss(m), rows: TRIPLETS.map((r, i) => ({ ...r, score: (i % 3) - 0.5 })) },
  mse: { title: 'MSELoss', loss: (m) => new MSELoss(m), rows: LIST_ROWS.map((r) => ({ query: r.query, passage: r.docs[0], score: r.labels[0] / 3 })) },
  mnrl: { title: 'MultipleNegativesRankingLoss (numNegatives 2, one hard negative)', loss: (m) => new MultipleNegativesRankingLoss(m, { numNegatives: 2 }), rows: TRIPLETS },
  cmnrl: {
    title: 'CachedMultipleNegativesRankingLoss (miniBatchSize 4)',
    loss: (m) => new CachedMultipleNegativesRankingLoss(m, { numNegatives: 2, miniBatchSize: 4 }),
    rows: TRIPLETS,
  },
};
const ARGS = { perDeviceTrainBatchSize: 3, maxSteps: 10, learningRate: 1e-3, weightDecay: 0.01, warmupSteps: 1 };
const VARIANTS = [{ threads: 2 }, { pad: 7 }];
const NATIVE_NAMES: Record<string, [string, Record<string, unknown>]> = {};

let workDir: string;
let modelDir: string;
let runs: Promise<Record<string, Reference[]>>;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'loss-parity-'));
  modelDir = await copyWithoutDropout('tiny', path.join(workDir, 'tiny'));

  const probes = PROBES.flatMap((p) => [referenceProbe(p, 'float32'), referenceProbe(p, 'float64')]);
  const mutatedProbes = PROBE_MUTATIONS.map((m) => referenceProbe(PROBES[m.probe], 'float32', m.mutation));
  probeAnswers = runPythonJson<{ probes: { loss: number | null; gradient: (number | null)[] }[] }>('st_losses.py', [], {
    probes: [...probes, ...mutatedProbes],
  }).then(({ probes: json }) => json.map(fromJson)).then((all) => ({
    f32: PROBES.map((_, i) => all[2 * i]),
    f64: PROBES.map((_, i) => all[2 * i + 1]),
    mutated: all.slice(2 * PROBES.length),
  }));
  oursProbes = Promise.all(
    PROBES.map((p) => probeLoss(p.options, 1, Float32Array.from(p.logits), p.batch).then((r) => ({ loss: r.loss, gradient: Array.from(r.gradient) }))),
  );

  const model = await CrossEncoder.fromPretrained(modelDir);
  const requests = Object.entries(TRAINING).flatMap(([name, c]) => {
    const native = c.loss(model).nativeOptions();
    NATIVE_NAMES[name] = [native.loss, native.lossOptions];
    const base = { model_dir: modelDir, rows: c.rows, loss: native.loss, options: native.lossOptions, args: ARGS };
    return [{ ...base, out: path.join(workDir, `${name}-plain.safetensors`) }, ...VARIANTS.map((variant, v) => ({ ...base, variant, out: path.join(workDir, `${name}-v${v}.safetensors`) }))];
  });
  runs = runPythonJson<{ runs: ReferenceRun[] }>('st_losses.py', [], { runs: requests }).then(async ({ runs: answers }) => {
    const refs = await Promise.all(answers.map(async (run, i) => ({ run, weights: await readSafetensorsF32(requests[i].out) })));
    return Object.fromEntries(Object.keys(TRAINING).map((name, i) => [name, refs.slice(i * 3, i * 3 + 3)]));
  });
  probeAnswers.catch(() => {});
  runs.catch(() => {});
}, TIMEOUT);

afterAll(async () => {
  if (process.env.LOSS_PARITY_REPORT) console.log(JSON.stringify(margins, null, 2));
  await Promise.allSettled([probeAnswers, runs]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('(a) each loss equals ST\'s formula in PyTorch on logits: value and gradient (ties, padding, all-zero labels)', () => {
  PROBES.forEach((p, i) => {
    it(p.title, async () => {
      const [{ f32, f64 }, ours] = await Promise.all([probeAnswers, oursProbes]);
      const gaps = probeGaps(ours[i], f32[i], f32[i], f64[i]);
      expect(gaps.valueGap, `value ${ours[i].loss} vs ${f32[i].loss}`).toBeLessThanOrEqual(gaps.valueTolerance);
      expect(gaps.gradGap, 'gradient').toBeLessThanOrEqual(gaps.gradTolerance);
      // Not vacuous: where ST's gradient is not ~0 (a list of one document has none), ours is not either.
      expect(ours[i].gradient.some((g) => g !== 0) || !f64[i].gradient.some((g) => Math.abs(g) > 1e-6), 'a gradient').toBe(true);
    }, TIMEOUT);
  });

  it('CachedMNRL gives the uncached loss and gradients', async () => {
    const ours = await oursProbes;
    const pairs = PROBES.map((p, i) => [p, i] as const).filter(([p]) => p.options.loss === 'multiple_negatives_ranking');
    for (const [, i] of pairs) {
      expect(ours[i + 1].loss).toBe(ours[i].loss);
      ours[i].gradient.forEach((g, j) => expect(Math.abs(ours[i + 1].gradient[j] - g)).toBeLessThanOrEqual(1e-7));
    }
  }, TIMEOUT);
});

describe('(c) the comparison fails on a deliberately wrong formula', () => {
  PROBE_MUTATIONS.forEach((m, i) => {
    it(m.title, async () => {
      const [{ f32, f64, mutated }, ours] = await Promise.all([probeAnswers, oursProbes]);
      const gaps = probeGaps(ours[m.probe], mutated[i], f32[m.probe], f64[m.probe]);
      margins[m.title] = Math.max(gaps.valueGap / gaps.valueTolerance, gaps.gradGap / gaps.gradTolerance);
      // A margin of at least 10x the tolerance, on the value or the gradient.
      expect(Math.max(gaps.valueGap / gaps.valueTolerance, gaps.gradGap / gaps.gradTolerance)).toBeGreaterThan(10);
      expect(f32[m.probe].loss).not.toBe(mutated[i].loss);
    }, TIMEOUT);
  });
});

describe('(b) a 10-step training run per loss matches PyTorch step for step (tiny model)', () => {
  for (const [name, c] of Object.entries(TRAINING)) {
    it(c.title, async () => {
      const model = await CrossEncoder.fromPretrained(modelDir);
      const ours = await trainRecorded(
        model,
        { loss: c.loss(model), trainDataset: c.rows, args: { ...ARGS, outputDir: path.join(workDir, name), saveStrategy: 'no', disableTqdm: true } },
        path.join(workDir, `${name}-ts`),
      );
      const [plain, ...variants] = (await runs)[name];
      const spread = checkedSpread(plain, variants);
      const initial = await readSafetensorsF32(path.join(modelDir, 'model.safetensors'));
      expect(largestChange(initial, plain.weights)).toBeGreaterThan(1e-3);
      expect(ours.globalStep).toBe(10);
      expect(parityMismatches(ours.run, plain, spread)).toEqual({ steps: [], weights: [] });
    }, TIMEOUT);
  }
});
