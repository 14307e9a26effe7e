/**
 * Sentence Transformers' CrossEncoder training tutorial, in TypeScript: fine-tune a reranker on
 * eight labelled support rows, save it, load it back and rerank two documents.
 *
 *   npm run example                      # the tutorial: 4 steps, batch 2, lr 2e-5, seed 7
 *   npm run example -- --evaluate        # hold out a split, evaluate with a reranking evaluator
 *   npm run example -- --steps 60        # more steps (the default when the hub is out of reach)
 *
 * It uses cross-encoder/ms-marco-MiniLM-L6-v2 when that model is in the local Hugging Face cache
 * (or can be downloaded). Without it, it says so and trains a generated model of the same shape
 * (random weights), which needs more steps before the relevant document wins.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import {
  CrossEncoder,
  CrossEncoderRerankingEvaluator,
  CrossEncoderTrainer,
  BinaryCrossEntropyLoss,
  DEFAULT_MODEL,
  ModelNotFoundError,
  trainTestSplit,
  type PairRow,
} from '../lib/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const resetDocument = 'To reset a user password, open Settings > Users, pick the user and click "Send reset link".';
const dashboardDocument = 'The release dashboard shows every deployment with its status, owner and start time.';

const rows: PairRow[] = [
  { query: 'How do I reset a user password?', document: resetDocument, label: 1 },
  { query: 'How do I reset a user password?', document: dashboardDocument, label: 0 },
  {
    query: 'How do I enable two-factor authentication?',
    document: 'Turn on two-factor authentication under Security > Sign-in and scan the QR code with an authenticator app.',
    label: 1,
  },
  { query: 'How do I enable two-factor authentication?', document: 'Invoices are emailed on the first business day of each month.', label: 0 },
  { query: 'How can I export audit logs?', document: 'Admins can export audit logs as CSV from Admin > Audit log > Export.', label: 1 },
  { query: 'How can I export audit logs?', document: 'Team avatars can be changed in the profile editor.', label: 0 },
  {
    query: 'How do I restore a deleted project?',
    document: 'Deleted projects stay in the trash for 30 days; open Trash and click Restore to bring one back.',
    label: 1,
  },
  { query: 'How do I restore a deleted project?', document: 'The office is closed on public holidays.', label: 0 },
];

// ms-marco-MiniLM-L6-v2's shape, for the generated stand-in.
const MINILM_CONFIG = {
  architectures: ['BertForSequenceClassification'],
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 384,
  num_hidden_layers: 6,
  num_attention_heads: 12,
  intermediate_size: 1536,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  id2label: { '0': 'LABEL_0' },
  label2id: { LABEL_0: 0 },
};

const { values: options } = parseArgs({
  options: {
    steps: { type: 'string' },
    'learning-rate': { type: 'string' },
    evaluate: { type: 'boolean', default: false },
    output: { type: 'string', default: 'models/support-reranker' },
  },
});

async function loadBaseModel(): Promise<{ model: CrossEncoder; generated: boolean }> {
  try {
    return { model: await CrossEncoder.fromPretrained(DEFAULT_MODEL), generated: false };
  } catch (error) {
    if (!(error instanceof ModelNotFoundError)) throw error;
    console.log(`${DEFAULT_MODEL} is not in the local cache and the hub cannot be reached (${error.message.split('\n')[0]})`);
    console.log('Training a generated MiniLM-L6-shaped model with random weights instead.');
    const tokenizer = path.join(here, '..', 'test', 'fixtures', 'bert-base-uncased');
    return { model: await CrossEncoder.fromConfig(MINILM_CONFIG, tokenizer, { seed: 7 }), generated: true };
  }
}

const { model, generated } = await loadBaseModel();
const maxSteps = Number(options.steps ?? (generated ? 60 : 4));
const learningRate = Number(options['learning-rate'] ?? (generated ? 1e-4 : 2e-5));

// With --evaluate: train on a split and rerank every query's candidates before saving.
const { train: trainRows, test: evalRows } = options.evaluate
  ? trainTestSplit(rows, { testSize: 0.25, seed: 7 })
  : { train: rows, test: undefined };
const evaluator = options.evaluate
  ? new CrossEncoderRerankingEvaluator({
      name: 'support',
      samples: [...new Set(rows.map((row) => row.query))].map((query) => ({
        query,
        positive: rows.filter((r) => r.query === query && r.label === 1).map((r) => r.document),
        negative: rows.filter((r) => r.query !== query || r.label === 0).map((r) => r.document),
      })),
    })
  : undefined;

const trainer = new CrossEncoderTrainer({
  model,
  trainDataset: trainRows,
  evalDataset: evalRows,
  evaluator,
  loss: new BinaryCrossEntropyLoss(model),
  args: {
    outputDir: options.output,
    maxSteps,
    perDeviceTrainBatchSize: 2,
    learningRate,
    warmupSteps: 0,
    seed: 7,
    saveStrategy: 'no',
    loggingSteps: Math.max(1, Math.floor(maxSteps / 4)),
    disableTqdm: !process.stderr.isTTY,
  },
});
const result = await trainer.train();

if (evaluator) {
  const metrics = await trainer.evaluate();
  for (const [key, value] of Object.entries(metrics)) console.log(`${key}: ${value.toFixed(4)}`);
}

const finalDir = path.join(options.output, 'final');
await model.savePretrained(finalDir);

const reloaded = await CrossEncoder.fromPretrained(finalDir, { activation: 'sigmoid' });
const query = 'How do I reset an account password?';
const [relevant, unrelated] = (await reloaded.predict([
  [query, resetDocument],
  [query, dashboardDocument],
])) as Float32Array;
const [top] = await reloaded.rank(query, [resetDocument, dashboardDocument], { returnDocuments: true });

console.log(`Training rows: ${trainRows.length}`);
console.log(`Training steps: ${result.globalStep}`);
console.log(`Saved model: ${finalDir}`);
console.log(`Relevant score: ${relevant.toFixed(4)}`);
console.log(`Unrelated score: ${unrelated.toFixed(4)}`);
console.log(`Top document: ${top.text}`);
