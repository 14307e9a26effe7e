/**
 * The listwise losses on `{ query, docs, labels }` rows (see listwise.ts): LambdaLoss, RankNetLoss,
 * ListNetLoss, PListMLELoss, ListMLELoss and ADRMSELoss. ST v5.1 losses/LambdaLoss.py,
 * RankNetLoss.py, ListNetLoss.py, PListMLELoss.py, ListMLELoss.py, and ADRMSELoss.py (v5.4, with
 * `alpha`); the maths is in native/training/losses/.
 */
import type { ColumnDataset, PairInput } from '../../datasets.js';
import { InvalidArgumentError } from '../../errors.js';
import type { CrossEncoder } from '../../model/cross-encoder.js';

import { listwiseSamples } from './listwise.js';
import {
  type ActivationFn,
  activationModule,
  checkActivation,
  checkFinite,
  checkOptions,
  checkPositiveInteger,
  type CrossEncoderLoss,
  type LossSamples,
  requireOneLabel,
} from './loss.js';
import { BaseWeightingScheme, NDCGLoss2PPScheme, NoWeightingScheme, schemeModule } from './weighting-schemes.js';

/** Options every listwise loss takes. */
export interface ListwiseLossOptions {
  /** Applied to the logits first (ST `activation_fn`). Default `identity`. */
  activationFn?: ActivationFn;
  /** Pairs per forward pass (memory only; ST default: the number of queries in the batch). */
  miniBatchSize?: number | null;
}

/** Options of {@link RankNetLoss} (and of {@link LambdaLoss} but its scheme). */
export interface RankNetLossOptions extends ListwiseLossOptions {
  /** Only pairs within the top k of the predicted order count (ST `k`, default null: all). */
  k?: number | null;
  /** Steepness of the sigmoid on score differences. Default 1. */
  sigma?: number;
  /** Clamp of probabilities and the ideal DCG. Default 1e-10. */
  eps?: number;
  /** Logarithm of the loss. Default `binary`. */
  reductionLog?: 'natural' | 'binary';
}

/** Options of {@link LambdaLoss}. */
export interface LambdaLossOptions extends RankNetLossOptions {
  /** Default `new NDCGLoss2PPScheme()`; null means {@link NoWeightingScheme}. */
  weightingScheme?: BaseWeightingScheme | null;
}

const RANKNET_OPTIONS = ['k', 'sigma', 'eps', 'reductionLog', 'activationFn', 'miniBatchSize'];

export abstract class ListwiseLoss implements CrossEncoderLoss {
  abstract readonly name: string;
  readonly model: CrossEncoder;
  readonly activationFn: ActivationFn;
  readonly miniBatchSize: number | null;

  constructor(name: string, model: CrossEncoder, o: Record<string, unknown>) {
    requireOneLabel(name, model);
    this.model = model;
    this.activationFn = checkActivation(name, o.activationFn, 'identity')!;
    // ST: `mini_batch_size or batch_size`, and <= 0 means every pair at once.
    const size = o.miniBatchSize;
    if (size !== undefined && size !== null && (typeof size !== 'number' || !Number.isInteger(size))) {
      throw new InvalidArgumentError(`${name}: miniBatchSize must be an integer or null, got ${JSON.stringify(size)}`);
    }
    this.miniBatchSize = size === undefined || size === null || size === 0 ? null : (size as number) < 0 ? Infinity : (size as number);
  }

  abstract get parameters(): Record<string, unknown>;
  abstract nativeOptions(): { loss: string; lossOptions: Record<string, number | boolean | string | null> };

  prepare(input: PairInput | ColumnDataset): LossSamples {
    return listwiseSamples(this.name, this.model, input, this.miniBatchSize);
  }

  protected get miniBatchSizeParameter(): number | null {
    return this.miniBatchSize === Infinity ? -1 : this.miniBatchSize;
  }
}

/**
 * LambdaLoss (Wang et al., 2018): pairwise logistic losses over the predicted order, weighted by
 * a scheme's NDCG-derived weights. Rows `{ query, docs, labels }` with graded labels.
 *
 * @example
 * new LambdaLoss(model, { weightingScheme: new LambdaRankScheme(), k: 10 })
 */
export class LambdaLoss extends ListwiseLoss {
  readonly name: string = 'LambdaLoss';
  readonly weightingScheme: BaseWeightingScheme;
  readonly k: number | null;
  readonly sigma: number;
  readonly eps: number;
  readonly reductionLog: 'natural' | 'binary';

  constructor(model: CrossEncoder, options: LambdaLossOptions = {}) {
    const o = checkOptions('LambdaLoss', options, ['weightingScheme', ...RANKNET_OPTIONS]);
    super('LambdaLoss', model, o);
    this.weightingScheme = resolveScheme(o.weightingScheme);
    this.k = (checkPositiveInteger('LambdaLoss', 'k', o.k, true) ?? null) as number | null;
    this.sigma = checkFinite('LambdaLoss', 'sigma', o.sigma, 1);
    this.eps = checkFinite('LambdaLoss', 'eps', o.eps, 1e-10);
    const log = o.reductionLog ?? 'binary';
    if (log !== 'natural' && log !== 'binary') throw new InvalidArgumentError(`LambdaLoss: reductionLog must be 'natural' or 'binary', got ${JSON.stringify(log)}`);
    this.reductionLog = log;
  }

  get parameters(): Record<string, unknown> {
    return {
      weighting_scheme: schemeModule(this.weightingScheme),
      k: this.k,
      sigma: this.sigma,
      eps: this.eps,
      reduction_log: this.reductionLog,
      activation_fn: activationModule(this.activationFn),
      mini_batch_size: this.miniBatchSizeParameter,
    };
  }

  nativeOptions() {
    return {
      loss: 'lambda_loss',
      lossOptions: {
        weightingScheme: this.weightingScheme.nativeName,
        ...this.weightingScheme.options(),
        k: this.k,
        sigma: this.sigma,
        eps: this.eps,
        reductionLog: this.reductionLog,
        activationFn: this.activationFn,
      },
    };
  }
}

function resolveScheme(value: unknown): BaseWeightingScheme {
  if (value === undefined) return new NDCGLoss2PPScheme();
  if (value === null) return new NoWeightingScheme();
  if (!(value instanceof BaseWeightingScheme)) {
    throw new InvalidArgumentError('LambdaLoss: weightingScheme must be a weighting scheme such as new NDCGLoss2PPScheme() or null');
  }
  return value;
}

/** RankNet (Burges et al., 2005): {@link LambdaLoss} with {@link NoWeightingScheme}. Rows `{ query, docs, labels }`. */
export class RankNetLoss extends LambdaLoss {
  override readonly name = 'RankNetLoss';

  constructor(model: CrossEncoder, options: RankNetLossOptions = {}) {
    checkOptions('RankNetLoss', options, RANKNET_OPTIONS);
    super(model, { ...options, weightingScheme: new NoWeightingScheme() });
  }

  override get parameters(): Record<string, unknown> {
    const { weighting_scheme: _, ...rest } = super.parameters;
    return rest;
  }
}

/**
 * ListNet (Cao et al., 2007): cross-entropy between the softmax of the scores and the softmax of
 * the labels of each query's list. Rows `{ query, docs, labels }`.
 */
export class ListNetLoss extends ListwiseLoss {
  readonly name = 'ListNetLoss';

  constructor(model: CrossEncoder, options: ListwiseLossOptions = {}) {
    super('ListNetLoss', model, checkOptions('ListNetLoss', options, ['activationFn', 'miniBatchSize']));
  }

  get parameters(): Record<string, unknown> {
    return { activation_fn: activationModule(this.activationFn), mini_batch_size: this.miniBatchSizeParameter };
  }

  nativeOptions() {
    return { loss: 'list_net', lossOptions: { activationFn: this.activationFn } };
  }
}

/** Options of {@link PListMLELoss} and {@link ListMLELoss}. */
export interface ListMLELossOptions extends ListwiseLossOptions {
  /**
   * true (default): each list's documents are in their ideal order already (best first); false:
   * they are sorted by label, descending, first.
   */
  respectInputOrder?: boolean;
}

/** Options of {@link PListMLELoss}. */
export interface PListMLELossOptions extends ListMLELossOptions {
  /** ST's `PListMLELambdaWeight()` (`'default'`: 2^(n - rank) - 1, normalised) or null (ListMLE). */
  lambdaWeight?: 'default' | null;
}

/**
 * Position-aware ListMLE (Lan et al., 2014): the Plackett-Luce likelihood of each list's order,
 * each position weighted by 2^(n - rank) - 1. Rows `{ query, docs, labels }`.
 */
export class PListMLELoss extends ListwiseLoss {
  readonly name: string = 'PListMLELoss';
  readonly lambdaWeight: 'default' | null;
  readonly respectInputOrder: boolean;

  constructor(model: CrossEncoder, options: PListMLELossOptions = {}) {
    const o = checkOptions('PListMLELoss', options, ['lambdaWeight', 'activationFn', 'miniBatchSize', 'respectInputOrder']);
    super('PListMLELoss', model, o);
    const weight = o.lambdaWeight === undefined ? 'default' : o.lambdaWeight;
    if (weight !== 'default' && weight !== null) throw new InvalidArgumentError(`PListMLELoss: lambdaWeight must be 'default' or null, got ${JSON.stringify(weight)}`);
    this.lambdaWeight = weight;
    const order = o.respectInputOrder ?? true;
    if (typeof order !== 'boolean') throw new InvalidArgumentError(`PListMLELoss: respectInputOrder must be a boolean, got ${JSON.stringify(order)}`);
    this.respectInputOrder = order;
  }

  get parameters(): Record<string, unknown> {
    return {
      lambda_weight: this.lambdaWeight === null ? null : 'sentence_transformers.cross_encoder.losses.PListMLELoss.PListMLELambdaWeight',
      activation_fn: activationModule(this.activationFn),
      mini_batch_size: this.miniBatchSizeParameter,
      respect_input_order: this.respectInputOrder,
    };
  }

  nativeOptions() {
    return {
      loss: 'plist_mle',
      lossOptions: { lambdaWeight: this.lambdaWeight ?? 'none', respectInputOrder: this.respectInputOrder, activationFn: this.activationFn },
    };
  }
}

/** ListMLE (Xia et al., 2008): {@link PListMLELoss} without position weights. Rows `{ query, docs, labels }`. */
export class ListMLELoss extends PListMLELoss {
  override readonly name = 'ListMLELoss';

  constructor(model: CrossEncoder, options: ListMLELossOptions = {}) {
    checkOptions('ListMLELoss', options, ['activationFn', 'miniBatchSize', 'respectInputOrder']);
    super(model, { ...options, lambdaWeight: null });
  }

  override get parameters(): Record<string, unknown> {
    const { lambda_weight: _, ...rest } = super.parameters;
    return rest;
  }
}

/** Options of {@link ADRMSELoss}. */
export interface ADRMSELossOptions extends ListwiseLossOptions {
  /** Temperature inside the ApproxRank sigmoid: higher is closer to the hard rank. Default 1. */
  alpha?: number;
}

/**
 * ADR-MSE (Rank-DistiLLM, Schlatt et al., 2025): the squared error between each document's rank
 * by label and a differentiable approximation of its rank by score, discounted by
 * 1 / log2(rank + 1) as nDCG does; tied labels share their average rank. Suited to distilling
 * graded or continuous teacher scores. Rows `{ query, docs, labels }` (or `scores`).
 */
export class ADRMSELoss extends ListwiseLoss {
  readonly name = 'ADRMSELoss';
  readonly alpha: number;

  constructor(model: CrossEncoder, options: ADRMSELossOptions = {}) {
    const o = checkOptions('ADRMSELoss', options, ['alpha', 'activationFn', 'miniBatchSize']);
    super('ADRMSELoss', model, o);
    this.alpha = checkFinite('ADRMSELoss', 'alpha', o.alpha, 1);
  }

  get parameters(): Record<string, unknown> {
    return { alpha: this.alpha, activation_fn: activationModule(this.activationFn), mini_batch_size: this.miniBatchSizeParameter };
  }

  nativeOptions() {
    return { loss: 'adr_mse', lossOptions: { alpha: this.alpha, activationFn: this.activationFn } };
  }
}
