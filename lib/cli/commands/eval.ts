/** `crossencoder eval`: evaluate a model as a reranker on samples from JSON lines. */
import { writeJsonAtomic } from '../../atomic-file.js';
import { InvalidArgumentError } from '../../errors.js';
import { CrossEncoderRerankingEvaluator, type RerankingSample } from '../../evaluation/index.js';
import { defineCommand } from '../command.js';
import { parseJsonObject, readAllLines, type SourceLine } from '../input.js';
import { BATCH_SIZE_OPTION, DTYPE_OPTION, loadModel, MAX_LENGTH_OPTION, MODEL_OPTIONS } from '../model-options.js';
import { formatMetricsTable, showProgress, writeOut } from '../output.js';

export const evalCommand = defineCommand('eval', {
  summary: 'Evaluate a model as a reranker (MAP, MRR@k, NDCG@k)',
  usage: '--data <samples.jsonl|-> [options]',
  description:
    'Reads reranking samples, one JSON object per line: {"query", "positive": [...], "negative": [...]}\n' +
    'or {"query", "positive": [...], "documents": [...]} (first-stage results; adds base_* metrics),\n' +
    'runs CrossEncoderRerankingEvaluator and prints a table of the metrics.',
  options: {
    data: { kind: 'string', short: 'd', value: '<file>', help: "Reranking samples as JSON lines, '-' for stdin", required: true },
    'at-k': { kind: 'integer', min: 1, value: '<k>', help: 'Cut-off of MRR and NDCG', default: 10 },
    output: { kind: 'string', short: 'o', value: '<file>', help: 'Also write the metrics as JSON to this file' },
    'batch-size': BATCH_SIZE_OPTION,
    'max-length': MAX_LENGTH_OPTION,
    ...MODEL_OPTIONS,
    dtype: DTYPE_OPTION,
  },
  async run(values) {
    const lines = await readAllLines(values.data);
    const samples = lines.map((line) => parseJsonObject(line) as unknown as RerankingSample);
    const evaluator = withLineNumbers(lines, () =>
      new CrossEncoderRerankingEvaluator({
        samples,
        atK: values['at-k'],
        batchSize: values['batch-size'],
        showProgressBar: showProgress(),
      }),
    );
    const model = await loadModel(values);
    const metrics = await evaluator.evaluate(model);
    if (values.output !== undefined) await writeJsonAtomic(values.output, metrics);
    await writeOut(formatMetricsTable(metrics));
  },
});

/** The evaluator names bad samples `samples[i]`; prefix the file and line they came from. */
function withLineNumbers<T>(lines: readonly SourceLine[], build: () => T): T {
  try {
    return build();
  } catch (error) {
    const index = error instanceof InvalidArgumentError ? /^samples\[(\d+)\]/.exec(error.message)?.[1] : undefined;
    const line = index === undefined ? undefined : lines[Number(index)];
    if (line === undefined) throw error;
    throw new InvalidArgumentError(`${line.where}: ${(error as Error).message}`, { cause: error });
  }
}
