/** `crossencoder predict`: score (query, document) pairs from JSON lines, in chunks as they are read. */
import type { Pair } from '../../model/cross-encoder.js';
import { createProgress } from '../../progress.js';
import { defineCommand } from '../command.js';
import { parsePairLine, readLines } from '../input.js';
import { ACTIVATION_OPTION, BATCH_SIZE_OPTION, DTYPE_OPTION, loadModel, MAX_LENGTH_OPTION, MODEL_OPTIONS } from '../model-options.js';
import { jsonLines, shortestFloat32, showProgress, writeOut } from '../output.js';

/** Pairs read before scoring them: bounds memory on huge inputs, keeps batches well sorted. */
const DEFAULT_CHUNK_SIZE = 1000;

export const predictCommand = defineCommand('predict', {
  summary: 'Score (query, document) pairs from JSON lines',
  usage: '--input <pairs.jsonl|-> [options]',
  description:
    'Reads JSON lines {"query": …, "document": …} and writes one JSON line per input line, in order:\n' +
    '{"score": …}, or {"scores": […]} for a model with several labels. Blank lines are skipped.\n' +
    'Input is scored in chunks as it is read, so files of any size work. At a bad line it stops\n' +
    'with an error naming the line, after writing the scores of every line before it.',
  options: {
    input: { kind: 'string', short: 'i', value: '<file>', help: "JSON lines of pairs, '-' for stdin", required: true },
    activation: ACTIVATION_OPTION,
    'batch-size': BATCH_SIZE_OPTION,
    'max-length': MAX_LENGTH_OPTION,
    'chunk-size': { kind: 'integer', min: 1, value: '<n>', help: 'Pairs read before scoring them; bounds memory', default: DEFAULT_CHUNK_SIZE },
    ...MODEL_OPTIONS,
    dtype: DTYPE_OPTION,
  },
  async run(values) {
    const model = await loadModel(values);
    const predictOptions = { batchSize: values['batch-size'], activation: values.activation };
    const progress = createProgress({ total: 0, label: 'Scoring', unit: 'pairs', enabled: showProgress() });
    let chunk: Pair[] = [];
    const flush = async () => {
      if (chunk.length === 0) return;
      const result = await model.predict(chunk, predictOptions);
      const records = Array.from(result as ArrayLike<number | Float32Array>, (score) =>
        typeof score === 'number' ? { score: shortestFloat32(score) } : { scores: Array.from(score, shortestFloat32) },
      );
      progress.tick(chunk.length);
      chunk = [];
      await writeOut(jsonLines(records));
    };
    let badLine: unknown;
    for await (const line of readLines(values.input)) {
      try {
        chunk.push(parsePairLine(line));
      } catch (error) {
        badLine = error;
        break;
      }
      if (chunk.length >= values['chunk-size']) await flush();
    }
    // Every line before a bad one is still scored: the output is then a clean prefix.
    await flush();
    progress.finish();
    if (badLine !== undefined) throw badLine;
  },
});
