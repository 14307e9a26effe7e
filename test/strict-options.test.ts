/**
 * Strict options: an unknown option name is an InvalidArgumentError naming the valid ones, with a
 * "did you mean" for Python's snake_case spellings, in every public call that takes options; and
 * the trainer refusing, when it is created, combinations that could only fail later.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  CrossEncoder,
  CrossEncoderClassificationEvaluator,
  CrossEncoderRerankingEvaluator,
  CrossEncoderTrainer,
  FileSystemError,
  InvalidArgumentError,
  predict,
  train,
} from '../lib/index.js';
import { checkOptionNames } from '../lib/option-names.js';

import { testModel } from './helpers/models.js';

const ROWS = [
  { query: 'q1', document: 'relevant', label: 1 },
  { query: 'q1', document: 'irrelevant', label: 0 },
];
const SAMPLES = [{ query: 'q1', positive: ['relevant'], negative: ['irrelevant', 'other'] }];

let tiny: CrossEncoder;
let work: string;
beforeAll(async () => {
  tiny = await CrossEncoder.fromPretrained(testModel('tiny'));
  work = await mkdtemp(path.join(tmpdir(), 'tce-strict-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The error of a call (sync throw or rejection). */
async function errorOf(call: () => unknown): Promise<Error> {
  try {
    await call();
  } catch (error) {
    return error as Error;
  }
  return expect.unreachable('expected an error');
}

describe('checkOptionNames', () => {
  it('names the unknown options, suggests the camelCase name of a snake_case one, and lists the valid ones', () => {
    expect(() => checkOptionNames('rank()', { top_k: 3, returnDocuments: true }, ['topK', 'returnDocuments'])).toThrow(
      "rank(): unknown option 'top_k' (did you mean 'topK'?); valid options: topK, returnDocuments",
    );
    expect(() => checkOptionNames('f()', { batchsize: 1, zzz: 2 }, ['batchSize'])).toThrow(
      "f(): unknown options 'batchsize' (did you mean 'batchSize'?), 'zzz'; valid options: batchSize",
    );
    expect(() => checkOptionNames('f()', undefined, ['a'])).not.toThrow();
    expect(() => checkOptionNames('f()', 'a', ['a'])).toThrow(InvalidArgumentError);
  });
});

describe('unknown option names are errors everywhere', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['predict', () => tiny.predict([['q', 'd']], { batch_size: 4 } as never), /^predict\(\): unknown option 'batch_size' \(did you mean 'batchSize'\?\); valid options: batchSize, activation, showProgressBar/],
    ['rank', () => tiny.rank('q', ['d'], { top_k: 1 } as never), /^rank\(\): unknown option 'top_k' \(did you mean 'topK'\?\)/],
    ['rank (return_documents)', () => tiny.rank('q', ['d'], { return_documents: true } as never), /did you mean 'returnDocuments'/],
    ['fromPretrained', () => CrossEncoder.fromPretrained(testModel('tiny'), { num_labels: 1 } as never), /^fromPretrained\(\): unknown option 'num_labels' \(did you mean 'numLabels'\?\); valid options: numLabels, maxLength, activation, maxModelBytes, dtype, revision, cacheDir/],
    ['fromPretrained (cache_folder)', () => CrossEncoder.fromPretrained(testModel('tiny'), { local_files_only: true } as never), /did you mean 'localFilesOnly'/],
    ['fromConfig', () => CrossEncoder.fromConfig(tiny.config, testModel('tiny'), { max_length: 8 } as never), /^fromConfig\(\): unknown option 'max_length' \(did you mean 'maxLength'\?\)/],
    ['savePretrained', () => tiny.savePretrained(path.join(work, 'x'), { model_id: 'me/x' } as never), /^savePretrained\(\): unknown option 'model_id' \(did you mean 'modelId'\?\); valid options: modelId$/],
    ['top-level predict', () => predict(testModel('tiny'), [['q', 'd']], { max_length: 8 } as never), /^predict\(\): unknown option 'max_length' \(did you mean 'maxLength'\?\)/],
    ['reranking evaluator', () => new CrossEncoderRerankingEvaluator({ samples: SAMPLES, at_k: 5 } as never), /^CrossEncoderRerankingEvaluator: unknown option 'at_k' \(did you mean 'atK'\?\)/],
    ['classification evaluator', () => new CrossEncoderClassificationEvaluator({ sentencePairs: [['a', 'b']], labels: [1], batch_size: 2 } as never), /did you mean 'batchSize'/],
    ['evaluate', () => new CrossEncoderRerankingEvaluator({ samples: SAMPLES }).evaluate(tiny, { output_path: work } as never), /^evaluate\(\): unknown option 'output_path' \(did you mean 'outputPath'\?\)/],
    ['trainer', () => new CrossEncoderTrainer({ model: tiny, trainDataset: ROWS, train_dataset: ROWS } as never), /^CrossEncoderTrainer: unknown option 'train_dataset' \(did you mean 'trainDataset'\?\)/],
    ['train()', () => new CrossEncoderTrainer({ model: tiny, trainDataset: ROWS, args: { disableTqdm: true, outputDir: path.join(work, 't') } }).train({ resume_from_checkpoint: true } as never), /^train\(\): unknown option 'resume_from_checkpoint' \(did you mean 'resumeFromCheckpoint'\?\)/],
    ['top-level train', () => train({ model: tiny, trainDataset: ROWS, eval_dataset: ROWS } as never), /did you mean 'evalDataset'/],
    ['training arguments', () => new CrossEncoderTrainer({ model: tiny, trainDataset: ROWS, args: { learning_rate: 1e-5 } as never }), /unknown training argument 'learning_rate' \(did you mean 'learningRate'\?\)/],
  ];

  it.each(cases)('%s', async (_what, call, message) => {
    const error = await errorOf(call);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(message);
  });
});

describe('impossible trainer set-ups fail when the trainer is created', () => {
  const create = (options: Partial<ConstructorParameters<typeof CrossEncoderTrainer>[0]>) => () =>
    new CrossEncoderTrainer({ model: tiny, trainDataset: ROWS, ...options, args: { outputDir: path.join(work, 'run'), disableTqdm: true, ...options.args } });

  it('an evaluation strategy with nothing to evaluate', () => {
    expect(create({ args: { evalStrategy: 'steps' } })).toThrow(/evalStrategy 'steps' needs something to evaluate with: pass an evalDataset \(for eval_loss\) or an evaluator/);
    expect(create({ args: { evalOnStart: true } })).toThrow(/evalOnStart needs something to evaluate with/);
    expect(create({ args: { evalStrategy: 'steps' }, evalDataset: ROWS })).not.toThrow();
  });

  it('a best-model metric no evaluation produces, naming those it does', () => {
    const evaluator = new CrossEncoderRerankingEvaluator({ samples: SAMPLES, name: 'dev' });
    const best = { evalStrategy: 'steps', saveStrategy: 'steps', loadBestModelAtEnd: true } as const;
    expect(create({ evaluator, args: { ...best, metricForBestModel: 'dev_ndcg@5' } })).toThrow(
      "metricForBestModel 'dev_ndcg@5' (eval_dev_ndcg@5) is not among the metrics the evaluations produce: eval_dev_map, eval_dev_mrr@10, eval_dev_ndcg@10",
    );
    expect(create({ evaluator, args: { ...best, metricForBestModel: 'loss' } })).toThrow(/'loss' \(eval_loss\) is not among/);
    expect(create({ evaluator, evalDataset: ROWS, args: { ...best, metricForBestModel: 'loss' } })).not.toThrow();
    const classification = new CrossEncoderClassificationEvaluator({ sentencePairs: [['a', 'b'], ['c', 'd']], labels: [1, 0] });
    expect(create({ evaluator: classification, args: { ...best, metricForBestModel: 'f1_macro' } })).toThrow(/eval_accuracy, .*eval_average_precision$/);
  });

  it("defaults metricForBestModel to the evaluator's primary metric, as Sentence Transformers", () => {
    const evaluator = new CrossEncoderRerankingEvaluator({ samples: SAMPLES, name: 'dev', atK: 5 });
    const trainer = create({ evaluator, args: { evalStrategy: 'steps', saveStrategy: 'steps', loadBestModelAtEnd: true } })();
    expect(trainer.args.metricForBestModel).toBe('eval_dev_ndcg@5');
    expect(trainer.args.greaterIsBetter).toBe(true);
    // Without loadBestModelAtEnd nothing changes (transformers' default stays).
    expect(create({ evaluator, args: { evalStrategy: 'steps' } })().args.metricForBestModel).toBe('loss');
  });

  it('an output directory under /proc, without spinning in mkdir', () => {
    const started = performance.now();
    expect(create({ args: { outputDir: '/proc/self/tce-output/run' } })).toThrow(FileSystemError);
    expect(create({ args: { outputDir: '/proc/self/tce-output/run' } })).toThrow(/\/proc\/self is on the kernel's procfs/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
