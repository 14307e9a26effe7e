/** `crossencoder rank`: rank a file of documents for one query. */
import { defineCommand } from '../command.js';
import { documentFormat, DOCUMENT_FORMATS, parseDocumentLine, readAllLines } from '../input.js';
import { ACTIVATION_OPTION, BATCH_SIZE_OPTION, DTYPE_OPTION, loadModel, MAX_LENGTH_OPTION, MODEL_OPTIONS } from '../model-options.js';
import { jsonLines, shortestFloat32, showProgress, writeOut } from '../output.js';

export const rankCommand = defineCommand('rank', {
  summary: 'Rank documents for one query',
  usage: '--query <text> --input <docs.txt|docs.jsonl|-> [options]',
  description:
    'Scores every document against the query and prints JSON lines {"corpusId", "score", "text"},\n' +
    'best first. corpusId is the 0-based index of the document among the non-blank input lines.\n' +
    'A .txt file holds one document per line; a .jsonl file one {"document": …} or {"text": …}\n' +
    'object per line.',
  options: {
    query: { kind: 'string', short: 'q', value: '<text>', help: 'The query', required: true },
    input: { kind: 'string', short: 'i', value: '<file>', help: "Documents, '-' for stdin", required: true },
    format: { kind: 'string', value: '<txt|jsonl>', choices: DOCUMENT_FORMATS, help: 'Input format; default: from the extension, txt for stdin' },
    'top-k': { kind: 'integer', short: 'k', min: 1, value: '<k>', help: 'Print only the best k documents; default: all' },
    activation: ACTIVATION_OPTION,
    'batch-size': BATCH_SIZE_OPTION,
    'max-length': MAX_LENGTH_OPTION,
    ...MODEL_OPTIONS,
    dtype: DTYPE_OPTION,
  },
  async run(values) {
    const format = documentFormat(values.input, values.format);
    const model = await loadModel(values);
    const documents = (await readAllLines(values.input)).map((line) => parseDocumentLine(line, format));
    const ranked = await model.rank(values.query, documents, {
      topK: values['top-k'],
      batchSize: values['batch-size'],
      activation: values.activation,
      returnDocuments: true,
      showProgressBar: showProgress(),
    });
    await writeOut(jsonLines(ranked.map(({ corpusId, score, text }) => ({ corpusId, score: shortestFloat32(score), text }))));
  },
});
