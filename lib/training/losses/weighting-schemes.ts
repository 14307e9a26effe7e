/**
 * LambdaLoss's weighting schemes, under Sentence Transformers' names (ST v5.1
 * losses/LambdaLoss.py). Each is a marker the native LambdaLoss reads; the weights are computed
 * in C++ (native/training/losses/lambda_loss.cc).
 */
import { InvalidArgumentError } from '../../errors.js';

/** What every weighting scheme gives LambdaLoss. */
export abstract class BaseWeightingScheme {
  /** @internal The native scheme's name. */
  abstract readonly nativeName: string;
  /** The class name, as in Sentence Transformers. */
  abstract readonly name: string;
  /** @internal The scheme's own options. */
  options(): Record<string, number> {
    return {};
  }
}

/** Every pair weighs 1 (RankNet). */
export class NoWeightingScheme extends BaseWeightingScheme {
  readonly nativeName = 'none';
  readonly name = 'NoWeightingScheme';
}

/** NDCG Loss1: gain / discount of each document (pairs with equal labels kept). */
export class NDCGLoss1Scheme extends BaseWeightingScheme {
  readonly nativeName = 'ndcg_loss1';
  readonly name = 'NDCGLoss1Scheme';
}

/** NDCG Loss2: |1/D(|i-j|) - 1/D(|i-j|+1)| × |gain_i - gain_j|. */
export class NDCGLoss2Scheme extends BaseWeightingScheme {
  readonly nativeName = 'ndcg_loss2';
  readonly name = 'NDCGLoss2Scheme';
}

/** LambdaRank: |1/D(i) - 1/D(j)| × |gain_i - gain_j|. */
export class LambdaRankScheme extends BaseWeightingScheme {
  readonly nativeName = 'lambda_rank';
  readonly name = 'LambdaRankScheme';
}

/** NDCG Loss2++ (LambdaLoss's default): `mu` × NDCGLoss2 + LambdaRank. */
export class NDCGLoss2PPScheme extends BaseWeightingScheme {
  readonly nativeName = 'ndcg_loss2pp';
  readonly name = 'NDCGLoss2PPScheme';
  readonly mu: number;

  /** @param options.mu the weight of the NDCGLoss2 term (default 10). */
  constructor(options: { mu?: number } = {}) {
    super();
    const { mu = 10 } = options ?? {};
    if (typeof mu !== 'number' || !Number.isFinite(mu)) throw new InvalidArgumentError(`NDCGLoss2PPScheme: mu must be a finite number, got ${mu}`);
    this.mu = mu;
  }

  override options(): Record<string, number> {
    return { mu: this.mu };
  }
}

const SCHEME_MODULE = 'sentence_transformers.cross_encoder.losses.LambdaLoss';

/** ST's `fullname(weighting_scheme)`, for the model card. */
export function schemeModule(scheme: BaseWeightingScheme): string {
  return `${SCHEME_MODULE}.${scheme.name}`;
}

/** A scheme by class name (the CLI's `--weighting-scheme`). */
export function schemeByName(name: string, mu?: number): BaseWeightingScheme {
  const schemes: Record<string, () => BaseWeightingScheme> = {
    NoWeightingScheme: () => new NoWeightingScheme(),
    NDCGLoss1Scheme: () => new NDCGLoss1Scheme(),
    NDCGLoss2Scheme: () => new NDCGLoss2Scheme(),
    LambdaRankScheme: () => new LambdaRankScheme(),
    NDCGLoss2PPScheme: () => new NDCGLoss2PPScheme({ mu }),
  };
  const make = schemes[name];
  if (!make) throw new InvalidArgumentError(`unknown weighting scheme '${name}'; known: ${Object.keys(schemes).join(', ')}`);
  return make();
}
