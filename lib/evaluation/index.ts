/** Evaluators of CrossEncoder models and the metrics behind them. */

export type { CrossEncoderEvaluator, EvaluateOptions, ExpectedMetrics, PairScorer, PairScorerPredictOptions } from './evaluator.js';
export {
  CrossEncoderRerankingEvaluator,
  type CrossEncoderRerankingEvaluatorOptions,
  type RerankingSample,
  type RerankingSampleWithDocuments,
  type RerankingSampleWithNegatives,
} from './reranking-evaluator.js';
export {
  CrossEncoderClassificationEvaluator,
  type CrossEncoderClassificationEvaluatorOptions,
} from './classification-evaluator.js';
export {
  argmax,
  averagePrecision,
  f1Score,
  findBestAccuracyThreshold,
  findBestF1Threshold,
  mean,
  mrrAtK,
  ndcgAtK,
  precisionRecallF1,
  rankDescending,
  type AccuracyThreshold,
  type F1Average,
  type F1Threshold,
  type Numbers,
  type PrecisionRecallF1,
} from './metrics.js';
