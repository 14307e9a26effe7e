/**
 * Ranking and classification metrics with the exact semantics of the Python tools that
 * Sentence Transformers' evaluators call: scikit-learn's `average_precision_score`, `ndcg_score`
 * and `f1_score`, and Sentence Transformers' own MRR@k and best-threshold searches. Pure functions:
 * they validate their input, throw {@link InvalidArgumentError} on bad input, and never mutate it.
 */

import { InvalidArgumentError } from '../errors.js';

/** A sequence of numbers: a plain array or a typed array (a `Float32Array` of model scores). */
export type Numbers = ArrayLike<number>;

/** Precision, recall and F1 of one class. */
export interface PrecisionRecallF1 {
  precision: number;
  recall: number;
  f1: number;
}

/** Result of {@link findBestAccuracyThreshold}. */
export interface AccuracyThreshold {
  /** Best accuracy over the candidate thresholds, in [0, 1]. */
  accuracy: number;
  /** Score threshold reaching it (predict positive when `score > threshold`); -1 if none was tried. */
  threshold: number;
}

/** Result of {@link findBestF1Threshold}. */
export interface F1Threshold extends PrecisionRecallF1 {
  /** Score threshold reaching the best F1; 0 if no candidate found a true positive. */
  threshold: number;
}

/** How per-class F1 scores are combined, as scikit-learn's `f1_score(average=...)`. */
export type F1Average = 'macro' | 'micro' | 'weighted';

/**
 * Average precision of a ranking, as scikit-learn's `average_precision_score(yTrue, yScore)`:
 * the sum over distinct score thresholds (highest first) of `(R_n - R_{n-1}) * P_n`. Documents with
 * equal scores form one threshold, so ties are neither optimistic nor pessimistic. With no positive
 * at all scikit-learn warns and returns 0; so does this.
 *
 * @param yTrue binary relevance, 0 or 1 per document.
 * @param yScore score per document, higher meaning more relevant.
 */
export function averagePrecision(yTrue: Numbers, yScore: Numbers): number {
  checkBinary(yTrue, 'yTrue');
  checkScores(yScore, yTrue.length, 'yScore');
  const totalPositives = count(yTrue, (v) => v === 1);
  if (totalPositives === 0) return 0;
  let truePositives = 0;
  let seen = 0;
  let previousRecall = 0;
  let ap = 0;
  for (const group of tieGroups(yScore)) {
    for (const index of group) truePositives += yTrue[index];
    seen += group.length;
    const recall = truePositives / totalPositives;
    ap += (recall - previousRecall) * (truePositives / seen);
    previousRecall = recall;
  }
  return ap;
}

/**
 * Normalised discounted cumulative gain at `k`, as scikit-learn's `ndcg_score([relevance],
 * [scores], k=k)` with its default `ignore_ties=False`: documents with equal scores share the
 * average of their gains over the discounts of the positions they span. Returns 0 when no document
 * is relevant. Unlike scikit-learn (which refuses it), a single document is allowed.
 *
 * @param relevance non-negative gain per document (binary relevance is 0/1).
 * @param scores score per document, higher ranked first.
 * @param k only the first `k` positions count.
 */
export function ndcgAtK(relevance: Numbers, scores: Numbers, k: number): number {
  checkFinite(relevance, 'relevance');
  for (let i = 0; i < relevance.length; i++) {
    if (relevance[i] < 0) throw new InvalidArgumentError(`relevance[${i}] must not be negative, got ${relevance[i]}`);
  }
  checkScores(scores, relevance.length, 'scores');
  checkK(k);
  const ideal = Array.from(relevance).sort((a, b) => b - a);
  let idealGain = 0;
  for (let i = 0; i < Math.min(k, ideal.length); i++) idealGain += ideal[i] * discount(i);
  if (idealGain === 0) return 0;

  let gain = 0;
  let position = 0;
  for (const group of tieGroups(scores)) {
    let groupRelevance = 0;
    for (const index of group) groupRelevance += relevance[index];
    let discounts = 0;
    for (let p = position; p < Math.min(position + group.length, k); p++) discounts += discount(p);
    gain += (groupRelevance / group.length) * discounts;
    position += group.length;
  }
  return gain / idealGain;
}

/**
 * Reciprocal rank of the first relevant document within the top `k`, as Sentence Transformers'
 * `CrossEncoderRerankingEvaluator.compute_metrics`: `1 / rank`, or 0 when none is in the top `k`.
 * The ranking is {@link rankDescending}'s, so among tied scores the later document ranks first.
 *
 * @param relevance relevance per document; any value > 0 counts as relevant.
 * @param scores score per document.
 * @param k only the first `k` positions count.
 */
export function mrrAtK(relevance: Numbers, scores: Numbers, k: number): number {
  checkFinite(relevance, 'relevance');
  checkScores(scores, relevance.length, 'scores');
  checkK(k);
  const ranking = rankDescending(scores);
  for (let rank = 0; rank < Math.min(k, ranking.length); rank++) {
    if (relevance[ranking[rank]] > 0) return 1 / (rank + 1);
  }
  return 0;
}

/**
 * Indices of `scores` from highest to lowest score: `np.argsort(scores)[::-1]` as Sentence
 * Transformers writes it, with a stable sort, so tied scores come out in reverse index order.
 * (NumPy's default sort is stable for up to 16 elements; beyond that its tie order is unspecified.)
 */
export function rankDescending(scores: Numbers): number[] {
  return indices(scores.length).sort((a, b) => scores[b] - scores[a] || b - a);
}

/**
 * Best accuracy over thresholds placed between consecutive sorted scores, as Sentence Transformers'
 * `BinaryClassificationEvaluator.find_best_acc_and_threshold(scores, labels, True)`: scores are
 * sorted descending (stable, so ties keep input order), the threshold after position `i` is the
 * midpoint of scores `i` and `i + 1`, and only a strictly better accuracy replaces the best. The
 * midpoint is computed in single precision when `scores` is a `Float32Array`, as NumPy does for
 * float32 model outputs.
 *
 * @param scores score per pair, higher meaning more likely positive.
 * @param labels gold label per pair, 0 or 1.
 */
export function findBestAccuracyThreshold(scores: Numbers, labels: Numbers): AccuracyThreshold {
  checkBinary(labels, 'labels');
  checkScores(scores, labels.length, 'scores');
  const order = sortDescendingStable(scores);
  let best: AccuracyThreshold = { accuracy: 0, threshold: -1 };
  let positivesSoFar = 0;
  let remainingNegatives = count(labels, (v) => v === 0);
  for (let i = 0; i < order.length - 1; i++) {
    if (labels[order[i]] === 1) positivesSoFar++;
    else remainingNegatives--;
    const accuracy = (positivesSoFar + remainingNegatives) / labels.length;
    if (accuracy > best.accuracy) {
      best = { accuracy, threshold: midpoint(scores, order[i], order[i + 1]) };
    }
  }
  return best;
}

/**
 * Best F1 over thresholds placed between consecutive sorted scores, as Sentence Transformers'
 * `BinaryClassificationEvaluator.find_best_f1_and_threshold(scores, labels, True)`, with the
 * precision and recall at that threshold (all 0, threshold 0, if no candidate has a true positive).
 * Sorting and midpoints as {@link findBestAccuracyThreshold}.
 *
 * @param scores score per pair, higher meaning more likely positive.
 * @param labels gold label per pair, 0 or 1.
 */
export function findBestF1Threshold(scores: Numbers, labels: Numbers): F1Threshold {
  checkBinary(labels, 'labels');
  checkScores(scores, labels.length, 'scores');
  const order = sortDescendingStable(scores);
  const totalPositives = count(labels, (v) => v === 1);
  let best: F1Threshold = { f1: 0, precision: 0, recall: 0, threshold: 0 };
  let extracted = 0;
  let correct = 0;
  for (let i = 0; i < order.length - 1; i++) {
    extracted++;
    if (labels[order[i]] === 1) correct++;
    if (correct === 0) continue;
    const precision = correct / extracted;
    const recall = correct / totalPositives;
    // Same expression as Sentence Transformers, so ties between candidates break identically.
    const f1 = (2 * precision * recall) / (precision + recall);
    if (f1 > best.f1) best = { f1, precision, recall, threshold: midpoint(scores, order[i], order[i + 1]) };
  }
  return best;
}

/**
 * Precision, recall and F1 of `positiveLabel` given predicted labels, as scikit-learn's
 * `precision_score` / `recall_score` / `f1_score` with `average='binary'`; an undefined ratio
 * (nothing predicted, or no positive) is 0, as scikit-learn's default `zero_division`.
 */
export function precisionRecallF1(yTrue: Numbers, yPred: Numbers, positiveLabel = 1): PrecisionRecallF1 {
  checkLabelPair(yTrue, yPred);
  return classCounts(yTrue, yPred, positiveLabel).scores();
}

/**
 * F1 over several classes, as scikit-learn's `f1_score(yTrue, yPred, average)`. The classes are
 * every label found in `yTrue` or `yPred`. `macro` is the unweighted mean of per-class F1, `micro`
 * the F1 of pooled counts (the accuracy, for single-label data), `weighted` the mean weighted by
 * each class's count in `yTrue`.
 */
export function f1Score(yTrue: Numbers, yPred: Numbers, average: F1Average): number {
  checkLabelPair(yTrue, yPred);
  const classes = [...new Set([...Array.from(yTrue), ...Array.from(yPred)])].sort((a, b) => a - b);
  const perClass = classes.map((label) => classCounts(yTrue, yPred, label));
  switch (average) {
    case 'micro': {
      const pooled = new ClassCounts();
      for (const c of perClass) pooled.add(c);
      return pooled.scores().f1;
    }
    case 'macro':
      return perClass.reduce((sum, c) => sum + c.scores().f1, 0) / perClass.length;
    case 'weighted': {
      const support = perClass.reduce((sum, c) => sum + c.support, 0);
      return perClass.reduce((sum, c) => sum + c.scores().f1 * c.support, 0) / support;
    }
    default:
      throw new InvalidArgumentError(`average must be 'macro', 'micro' or 'weighted', got ${String(average)}`);
  }
}

/** Index of the largest value, the first one on ties (as `np.argmax`). */
export function argmax(values: Numbers): number {
  if (values.length === 0) throw new InvalidArgumentError('argmax of an empty sequence');
  checkFinite(values, 'values');
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Arithmetic mean; 0 for an empty sequence would hide a bug, so that throws. */
export function mean(values: Numbers): number {
  if (values.length === 0) throw new InvalidArgumentError('mean of an empty sequence');
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** True/false positive and false negative counts of one class. */
class ClassCounts {
  truePositives = 0;
  falsePositives = 0;
  falseNegatives = 0;

  /** Number of true instances of the class. */
  get support(): number {
    return this.truePositives + this.falseNegatives;
  }

  add(other: ClassCounts): void {
    this.truePositives += other.truePositives;
    this.falsePositives += other.falsePositives;
    this.falseNegatives += other.falseNegatives;
  }

  scores(): PrecisionRecallF1 {
    const { truePositives: tp, falsePositives: fp, falseNegatives: fn } = this;
    return {
      precision: ratio(tp, tp + fp),
      recall: ratio(tp, tp + fn),
      f1: ratio(2 * tp, 2 * tp + fp + fn),
    };
  }
}

function classCounts(yTrue: Numbers, yPred: Numbers, label: number): ClassCounts {
  const counts = new ClassCounts();
  for (let i = 0; i < yTrue.length; i++) {
    const isTrue = yTrue[i] === label;
    const isPredicted = yPred[i] === label;
    if (isTrue && isPredicted) counts.truePositives++;
    else if (isPredicted) counts.falsePositives++;
    else if (isTrue) counts.falseNegatives++;
  }
  return counts;
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

/** 1 / log2(position + 2), written as scikit-learn computes it (natural logs). */
function discount(position: number): number {
  return 1 / (Math.log(position + 2) / Math.LN2);
}

/** Groups of indices with equal scores, highest score first. */
function tieGroups(scores: Numbers): number[][] {
  const order = sortDescendingStable(scores);
  const groups: number[][] = [];
  for (const index of order) {
    const last = groups[groups.length - 1];
    if (last && scores[last[0]] === scores[index]) last.push(index);
    else groups.push([index]);
  }
  return groups;
}

/** Indices by descending score; ties keep input order (Python's `sorted(..., reverse=True)`). */
function sortDescendingStable(scores: Numbers): number[] {
  return indices(scores.length).sort((a, b) => scores[b] - scores[a] || a - b);
}

/**
 * `(scores[a] + scores[b]) / 2` as NumPy evaluates it: float32 + float32 rounds to float32 (the
 * halving is exact), so a `Float32Array` gives the threshold Sentence Transformers reports.
 */
function midpoint(scores: Numbers, a: number, b: number): number {
  const sum = scores[a] + scores[b];
  return (scores instanceof Float32Array ? Math.fround(sum) : sum) / 2;
}

function indices(length: number): number[] {
  return Array.from({ length }, (_, i) => i);
}

function count(values: Numbers, predicate: (value: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (predicate(values[i])) n++;
  return n;
}

function checkSequence(values: Numbers, name: string): void {
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new InvalidArgumentError(`${name} must be an array of numbers`);
  }
  if (values.length === 0) throw new InvalidArgumentError(`${name} must not be empty`);
}

function checkFinite(values: Numbers, name: string): void {
  checkSequence(values, name);
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number' || !Number.isFinite(values[i])) {
      throw new InvalidArgumentError(`${name}[${i}] must be a finite number, got ${String(values[i])}`);
    }
  }
}

function checkBinary(values: Numbers, name: string): void {
  checkSequence(values, name);
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== 0 && values[i] !== 1) {
      throw new InvalidArgumentError(`${name}[${i}] must be 0 or 1, got ${String(values[i])}`);
    }
  }
}

function checkScores(scores: Numbers, expectedLength: number, name: string): void {
  checkFinite(scores, name);
  if (scores.length !== expectedLength) {
    throw new InvalidArgumentError(`${name} has ${scores.length} values, expected ${expectedLength}`);
  }
}

function checkLabelPair(yTrue: Numbers, yPred: Numbers): void {
  checkFinite(yTrue, 'yTrue');
  checkScores(yPred, yTrue.length, 'yPred');
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k <= 0) throw new InvalidArgumentError(`k must be a positive integer, got ${String(k)}`);
}
