/**
 * The model card (README.md) of a saved cross-encoder, shaped like the cards Sentence Transformers
 * writes: YAML front matter the Hugging Face Hub reads (library, pipeline, tags, base model,
 * metrics), then the model's details, usage from Python and TypeScript, and what is known of
 * its training and evaluation.
 */
import { type Activation, ACTIVATION_CLASS_PATHS } from './activation.js';
import type { ConfigJson } from './config.js';
import { isEvalMetricKey } from './loss-plot.js';

/** What a model card says about the model's origin and training; every field is optional. */
export interface ModelCardData {
  /** Hub id of the model training started from (set by `fromPretrained` when the model came from the hub). */
  baseModel?: string;
  /** Class name of the training loss, e.g. `BinaryCrossEntropyLoss`. */
  lossName?: string;
  /** The loss's parameters, shown as JSON. */
  lossParameters?: Record<string, unknown>;
  /** The training arguments that differ from their defaults, by their Python names (`learning_rate`); the trainer passes only those. */
  trainingArguments?: Record<string, unknown>;
  /** Final training metrics, e.g. `{ trainLoss, trainRuntime, epoch }`. */
  trainingMetrics?: Record<string, number>;
  /** Evaluation metrics, e.g. `{ 'eval_dev_ndcg@10': 0.71 }`; the `eval_` prefix is dropped in the card. */
  evalMetrics?: Record<string, number>;
  /** Number of training samples. */
  trainDatasetSize?: number;
  /** The trainer's log history (Hugging Face `log_history` entries). */
  logHistory?: Record<string, number>[];
  /** File name of the loss plot saved next to the card, linked when set. */
  lossPlot?: string;
  /**
   * The loss of every step, kept when the run logs too few points to draw a curve (a short run
   * with the default `loggingSteps` of 500); the plot draws these instead.
   */
  stepLosses?: Array<{ step: number; loss: number }>;
  /** How often the run logged, for the note that explains {@link ModelCardData.stepLosses}. */
  loggingSteps?: number;
  /** The step of the best checkpoint (`loadBestModelAtEnd`): marked in the logs table and the plot. */
  bestGlobalStep?: number;
}

/** The parts of a model that its card describes; a {@link CrossEncoder} has them all. */
export interface ModelCardModel {
  readonly numLabels: number;
  readonly maxLength: number;
  readonly activation: Activation;
  readonly config: ConfigJson;
}

/** Options of {@link renderModelCard}. */
export interface ModelCardOptions {
  /** Hub id or path the usage snippets load the model from. Default `"cross_encoder_model_id"`, as Sentence Transformers writes. */
  modelId?: string;
}

const SBERT_CROSS_ENCODER_DOCS = 'https://www.sbert.net/docs/cross_encoder/usage/usage.html';
const SBERT_LOSSES_DOCS = 'https://sbert.net/docs/package_reference/cross_encoder/losses.html';
const EXAMPLE_QUERY = 'How many people live in Berlin?';
const EXAMPLE_DOCUMENTS = [
  'Berlin had a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.',
  'Berlin is well known for its museums.',
];
/** Keys of a log entry that say when it was logged, not what was measured. */
const LOG_BOOKKEEPING = new Set(['epoch', 'step', 'total_flos']);
/** Longer training logs are sampled down to about this many rows. */
const MAX_LOG_ROWS = 100;

/**
 * The label names a saved model carries: the config's `id2label` names when it holds exactly
 * `numLabels` labels numbered 0…n-1, else `LABEL_0`…, as Hugging Face names new labels.
 */
export function labelNames(config: ConfigJson, numLabels: number): string[] {
  const id2label = config.id2label;
  if (id2label && typeof id2label === 'object' && !Array.isArray(id2label)) {
    const entries = id2label as Record<string, unknown>;
    const names = Array.from({ length: numLabels }, (_, i) => entries[String(i)]);
    if (Object.keys(entries).length === numLabels && names.every((name) => typeof name === 'string')) {
      return names as string[];
    }
  }
  return Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
}

/** Renders README.md for the model; a model that was never trained gets a short card. */
export function renderModelCard(model: ModelCardModel, data: ModelCardData = {}, options: ModelCardOptions = {}): string {
  const modelId = options.modelId ?? 'cross_encoder_model_id';
  const sections = [
    frontMatter(model, data),
    introduction(model, data),
    modelDetails(model, data),
    usage(model, modelId),
    trainingDetails(data),
    evaluation(data),
  ];
  return `${sections.filter((section) => section !== '').join('\n\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Sections.

/** Whether the card data describes a training run (else a loaded card may be kept as it is). */
export function isTrained(data: ModelCardData): boolean {
  return [data.lossName, data.trainingArguments, data.trainingMetrics, data.logHistory?.length].some((v) => v !== undefined && v !== 0);
}

function frontMatter(model: ModelCardModel, data: ModelCardData): string {
  const tags = ['sentence-transformers', 'cross-encoder'];
  if (model.numLabels === 1) tags.push('reranker');
  tags.push('torch-crossencoder');
  if (isTrained(data)) tags.push('generated_from_trainer');
  if (data.trainDatasetSize !== undefined) tags.push(`dataset_size:${data.trainDatasetSize}`);
  if (data.lossName) tags.push(`loss:${data.lossName}`);

  const lines = ['---', 'tags:', ...tags.map((tag) => `- ${yamlScalar(tag)}`)];
  if (data.baseModel && isHubId(data.baseModel)) lines.push(`base_model: ${yamlScalar(data.baseModel)}`);
  lines.push(`pipeline_tag: ${model.numLabels === 1 ? 'text-ranking' : 'text-classification'}`, 'library_name: sentence-transformers');
  const metrics = evalMetricEntries(data).map(([key]) => metricName(key));
  if (metrics.length > 0) lines.push('metrics:', ...metrics.map((metric) => `- ${yamlScalar(metric)}`));
  lines.push('---');
  return lines.join('\n');
}

function introduction(model: ModelCardModel, data: ModelCardData): string {
  const title = data.baseModel ? `# CrossEncoder based on ${data.baseModel}` : '# Cross Encoder model';
  const origin = data.baseModel
    ? `${isTrained(data) ? 'finetuned' : 'built'} from ${modelLink(data.baseModel)}`
    : isTrained(data)
      ? 'trained'
      : 'saved';
  const task = model.numLabels === 1 ? 'text reranking and semantic search' : 'text pair classification';
  return [
    title,
    `This is a [Cross Encoder](${SBERT_CROSS_ENCODER_DOCS}) model ${origin} with ` +
      '[torch-crossencoder](https://www.npmjs.com/package/torch-crossencoder), in the format of the ' +
      '[sentence-transformers](https://www.SBERT.net) library. ' +
      `It computes scores for pairs of texts, which can be used for ${task}.`,
  ].join('\n\n');
}

function modelDetails(model: ModelCardModel, data: ModelCardData): string {
  const labels = labelNames(model.config, model.numLabels);
  const lines = [
    '## Model Details',
    '',
    '### Model Description',
    '- **Model Type:** Cross Encoder',
    data.baseModel ? `- **Base model:** ${modelLink(data.baseModel)}` : '<!-- - **Base model:** Unknown -->',
    `- **Maximum Sequence Length:** ${model.maxLength} tokens`,
    `- **Number of Output Labels:** ${model.numLabels} label${model.numLabels === 1 ? '' : 's'}` +
      (model.numLabels > 1 ? ` (${labels.map((label) => `\`${label}\``).join(', ')})` : ''),
    `- **Activation Function:** \`${ACTIVATION_CLASS_PATHS[model.activation]}\`, applied to the logits by \`predict\``,
  ];
  if (data.trainDatasetSize !== undefined) lines.push(`- **Training Dataset Size:** ${data.trainDatasetSize} samples`);
  return lines.join('\n');
}

function usage(model: ModelCardModel, modelId: string): string {
  const pairs = EXAMPLE_DOCUMENTS.map((document) => [EXAMPLE_QUERY, document]);
  const pyList = (items: readonly string[]) => `[${items.map((item) => JSON.stringify(item)).join(', ')}]`;
  const pythonPairs = pairs.map((pair) => `    ${pyList(pair)},`).join('\n');
  const tsPairs = pairs.map((pair) => `  [${pair.map(tsString).join(', ')}],`).join('\n');
  const single = model.numLabels === 1;
  const labels = labelNames(model.config, model.numLabels);

  const python = [
    'from sentence_transformers import CrossEncoder',
    '',
    `model = CrossEncoder(${JSON.stringify(modelId)})`,
    'scores = model.predict([',
    pythonPairs,
    '])',
    'print(scores.shape)',
    `# ${single ? '(2,)' : `(2, ${model.numLabels})`}`,
    ...(single
      ? [
          '',
          '# Or rank documents by their relevance to one query',
          `ranks = model.rank(${JSON.stringify(EXAMPLE_QUERY)}, ${pyList(EXAMPLE_DOCUMENTS)})`,
          "# [{'corpus_id': ..., 'score': ...}, ...]",
        ]
      : ['', `label_mapping = ${pyList(labels)}`, 'labels = [label_mapping[i] for i in scores.argmax(axis=1)]']),
  ];
  const typescript = [
    "import { CrossEncoder } from 'torch-crossencoder';",
    '',
    `const model = await CrossEncoder.fromPretrained(${tsString(modelId)});`,
    'const scores = await model.predict([',
    tsPairs,
    ']);',
    ...(single
      ? [
          `// Float32Array of ${pairs.length} scores`,
          '',
          '// Or rank documents by their relevance to one query',
          `const ranks = await model.rank(${tsString(EXAMPLE_QUERY)}, [${EXAMPLE_DOCUMENTS.map(tsString).join(', ')}]);`,
          '// [{ corpusId, score }, ...], best first',
        ]
      : [`// one Float32Array of ${model.numLabels} scores per pair, labels ${labels.map((label) => `'${label}'`).join(', ')}`]),
  ];
  return [
    '## Usage',
    '',
    '### Direct Usage (Sentence Transformers)',
    '',
    'First install the Sentence Transformers library:',
    '',
    '```bash\npip install -U sentence-transformers\n```',
    '',
    'Then you can load this model and run inference.',
    '```python',
    ...python,
    '```',
    '',
    '### Direct Usage (torch-crossencoder, TypeScript)',
    '',
    '```bash\nnpm install torch-crossencoder\n```',
    '',
    '```ts',
    ...typescript,
    '```',
  ].join('\n');
}

function trainingDetails(data: ModelCardData): string {
  if (!isTrained(data) && data.trainDatasetSize === undefined) return '';
  const parts = ['## Training Details'];
  if (data.trainDatasetSize !== undefined || data.lossName) {
    const lines = ['### Training Dataset'];
    if (data.trainDatasetSize !== undefined) lines.push(`* Size: ${data.trainDatasetSize} training samples`);
    if (data.lossName) {
      const loss = `[<code>${escapeHtml(data.lossName)}</code>](${SBERT_LOSSES_DOCS}#${data.lossName.toLowerCase()})`;
      if (data.lossParameters && Object.keys(data.lossParameters).length > 0) {
        lines.push(`* Loss: ${loss} with these parameters:`, '  ```json', indent(JSON.stringify(data.lossParameters, null, 4), '  '), '  ```');
      } else {
        lines.push(`* Loss: ${loss}`);
      }
    }
    parts.push(lines.join('\n'));
  }
  if (data.trainingArguments && Object.keys(data.trainingArguments).length > 0) {
    parts.push(
      [
        '### Training Hyperparameters',
        '#### Non-Default Hyperparameters',
        '',
        ...Object.entries(data.trainingArguments).map(([key, value]) => `- \`${key}\`: ${formatArgument(value)}`),
      ].join('\n'),
    );
  }
  if (data.trainingMetrics && Object.keys(data.trainingMetrics).length > 0) {
    parts.push(
      ['### Training Results', '', ...Object.entries(data.trainingMetrics).map(([key, value]) => `- \`${key}\`: ${formatNumber(value)}`)].join(
        '\n',
      ),
    );
  }
  const logs = trainingLogs(data.logHistory ?? [], data.bestGlobalStep);
  if (logs !== '' || data.lossPlot) {
    const lines = ['### Training Logs'];
    if (data.lossPlot) lines.push('', `![Training loss and evaluation metrics](${encodeURI(data.lossPlot)})`);
    if (data.lossPlot && data.stepLosses && data.stepLosses.length > 0) {
      lines.push(
        '',
        `*The run logged its loss every ${data.loggingSteps ?? '?'} steps, too few points for a curve: the plot shows the loss of every step.*`,
      );
    }
    if (logs !== '') lines.push('', logs);
    parts.push(lines.join('\n'));
  }
  return parts.join('\n\n');
}

function evaluation(data: ModelCardData): string {
  const metrics = evalMetricEntries(data);
  if (metrics.length === 0) return '';
  return [
    '## Evaluation',
    '',
    '### Metrics',
    '',
    '| Metric | Value |',
    '|:-------|------:|',
    ...metrics.map(([key, value]) => `| ${escapeCell(metricName(key))} | ${formatNumber(value)} |`),
  ].join('\n');
}

/**
 * A table of the log history: one row per step, training loss and evaluation metrics side by
 * side; the best checkpoint's row in bold, as Sentence Transformers marks it.
 */
function trainingLogs(logHistory: readonly Record<string, number>[], bestStep: number | undefined): string {
  const rows = new Map<number, Record<string, number>>();
  const columns = new Set<string>();
  for (const entry of logHistory) {
    if (!Number.isFinite(entry.step) || 'train_runtime' in entry) continue; // the final summary has its own section
    const row = rows.get(entry.step) ?? { step: entry.step };
    for (const [key, value] of Object.entries(entry)) {
      if (key === 'loss' || key.startsWith('eval_') || key === 'epoch') row[key] = value;
      if (key === 'loss' || isEvalMetricKey(key)) columns.add(key);
    }
    rows.set(entry.step, row);
  }
  if (rows.size === 0 || columns.size === 0) return '';
  const ordered = [...columns].sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : 0));
  let list = [...rows.values()].sort((a, b) => a.step - b.step);
  let note = '';
  if (list.length > MAX_LOG_ROWS) {
    const every = Math.ceil(list.length / MAX_LOG_ROWS);
    list = list.filter((_, i) => i % every === 0 || i === list.length - 1 || list[i].step === bestStep);
    note = `\n\n*One logged step in ${every} is shown, and the last.*`;
  }
  if (bestStep !== undefined && list.some((row) => row.step === bestStep)) note += '\n\n* The bold row denotes the saved checkpoint.';
  const header = ['Epoch', 'Step', ...ordered.map((key) => (key === 'loss' ? 'Training Loss' : key === 'eval_loss' ? 'Validation Loss' : metricName(key)))];
  const lines = [
    `| ${header.map(escapeCell).join(' | ')} |`,
    `|${header.map(() => ':------').join('|')}|`,
    ...list.map((row) => {
      const cells = [row.epoch === undefined ? '-' : formatNumber(row.epoch), String(row.step)];
      for (const key of ordered) cells.push(row[key] === undefined ? '-' : formatNumber(row[key]));
      const bold = row.step === bestStep;
      return `| ${cells.map((cell) => (bold && cell !== '-' ? `**${cell}**` : cell)).join(' | ')} |`;
    }),
  ];
  return lines.join('\n') + note;
}

// ---------------------------------------------------------------------------------------------
// Formatting.

/** The evaluation metrics, without the step, epoch and timings an evaluation log also holds. */
function evalMetricEntries(data: ModelCardData): Array<[string, number]> {
  // Keys come with the `eval_` prefix, as the trainer logs them, or without it.
  return Object.entries(data.evalMetrics ?? {}).filter(
    ([key, value]) => !LOG_BOOKKEEPING.has(key) && isEvalMetricKey(key.startsWith('eval_') ? key : `eval_${key}`) && typeof value === 'number',
  );
}

/** `eval_dev_ndcg@10` → `dev_ndcg@10`. */
function metricName(key: string): string {
  return key.startsWith('eval_') ? key.slice('eval_'.length) : key;
}

/** A Hub model id (`name` or `owner/name`), as opposed to a local path. */
function isHubId(name: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(name) && !name.includes('..');
}

function modelLink(name: string): string {
  return isHubId(name) ? `[${name}](https://huggingface.co/${name})` : `\`${name}\``;
}

/** A YAML scalar: plain when unambiguous, else double-quoted (JSON strings are valid YAML). */
function yamlScalar(text: string): string {
  // Starting with a letter rules out numbers; YAML 1.1 booleans and a trailing colon remain.
  const plain = /^[A-Za-z_][\w./@:+-]*$/.test(text) && !/^(true|false|yes|no|on|off|null|y|n)$/i.test(text) && !text.endsWith(':');
  return plain ? text : JSON.stringify(text);
}

/** Metrics and losses as Sentence Transformers prints them: 4 decimals; integers as they are. */
function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) < 1e-4 ? value.toExponential(3) : value.toFixed(4);
}

function formatArgument(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return `\`${JSON.stringify(value)}\``;
}

function tsString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
