/**
 * The loss catalogue: every loss class, Sentence Transformers' default, and the registry the CLI
 * builds a loss from by name (`--loss LambdaLoss`). A new loss is its file and a line in LOSSES.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { CrossEncoder } from '../../model/cross-encoder.js';
import { suggest } from '../../suggest.js';

import { ADRMSELoss, LambdaLoss, ListMLELoss, ListNetLoss, PListMLELoss, RankNetLoss } from './listwise-losses.js';
import type { CrossEncoderLoss } from './loss.js';
import { CachedMultipleNegativesRankingLoss, MultipleNegativesRankingLoss } from './multiple-negatives-ranking.js';
import { BinaryCrossEntropyLoss, CrossEntropyLoss, MarginMSELoss, MSELoss } from './pointwise.js';

export type { ActivationFn, CrossEncoderLoss, LossSamples } from './loss.js';
export * from './listwise-losses.js';
export * from './multiple-negatives-ranking.js';
export * from './pointwise.js';
export * from './weighting-schemes.js';

/** Every loss by class name, with the data format it takes (the README's loss table). */
export const LOSSES: Readonly<Record<string, { create: (model: CrossEncoder, options: Record<string, unknown>) => CrossEncoderLoss; format: string }>> = {
  BinaryCrossEntropyLoss: { create: (m, o) => new BinaryCrossEntropyLoss(m, o), format: '{ query, document, label }' },
  CrossEntropyLoss: { create: (m, o) => (Object.keys(o).length ? noOptions('CrossEntropyLoss') : new CrossEntropyLoss(m)), format: '{ query, document, label }' },
  MSELoss: { create: (m, o) => new MSELoss(m, o), format: '{ query, passage, score }' },
  MarginMSELoss: { create: (m, o) => new MarginMSELoss(m, o), format: '{ query, positive, negative_1…n, scores }' },
  LambdaLoss: { create: (m, o) => new LambdaLoss(m, o), format: '{ query, docs, labels }' },
  RankNetLoss: { create: (m, o) => new RankNetLoss(m, o), format: '{ query, docs, labels }' },
  ListNetLoss: { create: (m, o) => new ListNetLoss(m, o), format: '{ query, docs, labels }' },
  ListMLELoss: { create: (m, o) => new ListMLELoss(m, o), format: '{ query, docs, labels }' },
  PListMLELoss: { create: (m, o) => new PListMLELoss(m, o), format: '{ query, docs, labels }' },
  ADRMSELoss: { create: (m, o) => new ADRMSELoss(m, o), format: '{ query, docs, labels }' },
  MultipleNegativesRankingLoss: { create: (m, o) => new MultipleNegativesRankingLoss(m, o), format: '{ query, positive, negative_1…n }' },
  CachedMultipleNegativesRankingLoss: { create: (m, o) => new CachedMultipleNegativesRankingLoss(m, o), format: '{ query, positive, negative_1…n }' },
};

function noOptions(name: string): never {
  throw new InvalidArgumentError(`${name} takes no options`);
}

/** A loss by class name with its options (the CLI's `--loss`). */
export function createLoss(name: string, model: CrossEncoder, options: Record<string, unknown> = {}): CrossEncoderLoss {
  const entry = LOSSES[name];
  if (!entry) {
    const guess = suggest(name, Object.keys(LOSSES));
    throw new InvalidArgumentError(`unknown loss '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}; known: ${Object.keys(LOSSES).join(', ')}`);
  }
  return entry.create(model, options);
}

/** Sentence Transformers' default: BCE for one label, cross-entropy for several. */
export function defaultLoss(model: CrossEncoder): CrossEncoderLoss {
  return model.numLabels === 1 ? new BinaryCrossEntropyLoss(model) : new CrossEntropyLoss(model);
}
