/**
 * The generated test models (test/reference/generate_models.py) and the Python references over
 * them: bert_reference.py `predict` (BERT, from text or ids) and family_reference.py (RoBERTa,
 * XLM-RoBERTa, ELECTRA, ModernBERT and BERT, from token ids: `predict`, `train`), plus the
 * official Rust tokenizer's ids (make_tokenizers.mjs `encode`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { REFERENCE_DIR, runPythonJson } from './python.js';

/** `test/.models/`, where `scripts/test-setup.sh` generates the test models. */
export const MODELS_DIR = fileURLToPath(new URL('../.models/', import.meta.url));

/** The BERT models generate_models.py writes (see its docstring). */
export type BertTestModelName = 'tiny' | 'minilm-l6' | 'tiny-bin' | 'tiny-f16' | 'tiny-3labels' | 'tiny-gelu-new';

/**
 * The other families' tiny models (all 1 label, hidden 32; see generate_models.py):
 * - `tiny-roberta`: byte-level BPE vocab 2000, `<s>`=0 `<pad>`=1 `</s>`=2 `<unk>`=3 `<mask>`=1999;
 *   max_position_embeddings 514, type_vocab_size 1;
 * - `tiny-xlm-roberta`: sentencepiece Unigram vocab 3002 (Precompiled nmt_nfkc normalizer), same
 *   specials, `<mask>`=3001;
 * - `tiny-electra`: bert-base-uncased WordPiece, embedding_size 16 != hidden 32 (embeddings_project);
 * - `tiny-modernbert` / `tiny-modernbert-mean`: byte-level BPE vocab 2000, `[UNK]`=1995 `[CLS]`=1996
 *   `[SEP]`=1997 `[PAD]`=1998 `[MASK]`=1999; 4 layers (0, 3 global; 1, 2 local), local_attention 8;
 *   classifier_pooling "cls" / "mean", same weights.
 */
export type FamilyTestModelName = 'tiny-roberta' | 'tiny-xlm-roberta' | 'tiny-electra' | 'tiny-modernbert' | 'tiny-modernbert-mean';

/**
 * Sentence Transformers' modular CrossEncoder layout (ST ≥ 5.4, the Ettin rerankers'), over
 * tiny-modernbert's base model and tokenizer: modules.json [Transformer, Pooling, Dense(32→32,
 * GELU, no bias), LayerNorm(32), Dense(32→1, Identity, "scores")], activation_fn Identity;
 * `tiny-ettin` pools "cls" (config.json without id2label), `tiny-ettin-mean` "mean" in
 * Pooling's legacy keys (config.json with HF's default two labels). See generate_models.py.
 */
export type ModularTestModelName = 'tiny-ettin' | 'tiny-ettin-mean';

/** Every model of the default generation. */
export type TestModelName = BertTestModelName | FamilyTestModelName | ModularTestModelName;

/**
 * Real-shaped models, only written by `generate_models.py --real-shapes` (not by the test setup:
 * ~4.5 GB): seeded weights, the tiny tokenizers padded with unused tokens to the real vocab size.
 */
export type RealShapeModelName = 'bge-reranker-base' | 'bge-reranker-large' | 'distilroberta-base' | 'electra-base' | 'gte-reranker-modernbert-base';

/** The directory of a generated test model; throws a hint to generate them when it is missing. */
export function testModel(name: TestModelName | RealShapeModelName): string {
  const dir = path.join(MODELS_DIR, name);
  if (!existsSync(path.join(dir, 'config.json'))) {
    const how = (['bge-reranker-base', 'bge-reranker-large', 'distilroberta-base', 'electra-base', 'gte-reranker-modernbert-base'] as string[]).includes(name)
      ? '`/usr/bin/python3 test/reference/generate_models.py --real-shapes`'
      : '`bash scripts/test-setup.sh` (or npm test)';
    throw new Error(`test model ${dir} is missing: run ${how} first`);
  }
  return dir;
}

/** A deliberate bug of the reference (bert_reference.py's docstring), for mutation checks. */
export interface ReferenceMutation {
  layer_norm_eps?: number;
  weight_delta?: { name: string; index: number; delta: number };
}

/** Options of a `predict` request that serve the parity tests (see bert_reference.py). */
export interface ReferenceExtras {
  /** Also score the pairs in batches of each of these sizes: PyTorch's own batch-composition spread. */
  batch_sizes?: number[];
  /** Also score them (one batch) with a fresh copy of the model made wrong in each of these ways. */
  mutations?: ReferenceMutation[];
}

/** A `predict` request of bert_reference.py: pairs to tokenize, or token ids. */
export type ReferenceRequest = (
  | { pairs: ReadonlyArray<readonly [string, string]>; max_length?: number }
  | { input_ids: number[][]; token_type_ids?: number[][]; attention_mask?: number[][] }
) &
  ReferenceExtras;

/** bert_reference.py's answer: inputs padded to the longest pair, float32 logits per pair. */
export interface ReferenceAnswer {
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
  logits: number[][];
  /** With `batch_sizes`: the logits of each batch size, in input order. */
  logits_by_batch_size?: number[][][];
  /** With `mutations`: the logits of each mutated model. */
  logits_by_mutation?: number[][][];
}

/** Runs `bert_reference.py predict --model modelDir` on one request. */
export function referencePredict(modelDir: string, request: ReferenceRequest): Promise<ReferenceAnswer> {
  return runPythonJson<ReferenceAnswer>('bert_reference.py', ['predict', '--model', modelDir], request);
}

// ---------------------------------------------------------------------------------------------
// family_reference.py (RoBERTa, XLM-RoBERTa, ELECTRA, ModernBERT; BERT too), from token ids
// ---------------------------------------------------------------------------------------------

/** A deliberate bug of family_reference.py (see its docstring); keys may be combined. */
export interface FamilyMutation {
  /** Every nn.LayerNorm's eps (ModernBERT's norms included). */
  layer_norm_eps?: number;
  weight_delta?: { name: string; index: number; delta: number };
  /** Added to every logit. */
  logit_shift?: number;
  /** The model rebuilt from a changed config.json (same weights), e.g. `{ local_attention: 16 }`. */
  config?: Record<string, unknown>;
  /** roberta / xlm-roberta: positions 0..n-1 (BERT's) instead of create_position_ids_from_input_ids. */
  arange_positions?: boolean;
  /** electra: the classification head's activation instead of GELU (an ACT2FN name, e.g. 'tanh'). */
  head_activation?: string;
  /** Modular directories: the Pooling module pools by this mode instead. */
  pooling_mode?: string;
  /** Modular directories: these Dense modules' activation replaced, by module name (a torch class path). */
  dense_activation?: Record<string, string>;
  /** Modular directories: the eps of the LayerNorm modules (not the base model's norms). */
  module_layer_norm_eps?: number;
}

/** A `predict` request of family_reference.py: padded token ids (mask default 1, types default 0). */
export interface FamilyPredictRequest {
  input_ids: number[][];
  attention_mask?: number[][];
  /** Ignored by ModernBERT; must be < type_vocab_size (1 for RoBERTa-style checkpoints). */
  token_type_ids?: number[][];
  /** Also score the rows in consecutive batches of each size, each trimmed to its longest row. */
  batch_sizes?: number[];
  /** Also score them (one batch) under torch.set_num_threads(n) for each n. */
  threads?: number[];
  /** Also score them with n more pad positions (pad_token_id, mask 0) for each n. */
  extra_padding?: number[];
  /** Also score them fed in reverse order (answered in input order). */
  reverse?: boolean;
  mutations?: FamilyMutation[];
}

/** family_reference.py's `predict` answer (float32 logits per row). */
export interface FamilyPredictAnswer {
  model_type: string;
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
  logits: number[][];
  logits_by_batch_size?: number[][][];
  logits_by_threads?: number[][][];
  logits_by_extra_padding?: number[][][];
  logits_reversed?: number[][];
  /** The largest |variant - logits| over the batch_sizes / threads / extra_padding / reverse variants. */
  spread: number;
  logits_by_mutation?: number[][][];
}

/** Runs `family_reference.py predict --model modelDir` on one request. */
export function familyPredict(modelDir: string, request: FamilyPredictRequest): Promise<FamilyPredictAnswer> {
  return runPythonJson<FamilyPredictAnswer>('family_reference.py', ['predict', '--model', modelDir], request);
}

/** One pre-tokenized training row of family_reference.py `train` (a pair after the template). */
export interface FamilyTrainRow {
  input_ids: number[];
  token_type_ids?: number[];
  label: number;
}

/**
 * A `train` run: train_reference.py's request (camelCase `args`, `variant`, `mutation`,
 * `pos_weight`, `out`) with pre-tokenized rows; micro-batches are padded with pad_token_id.
 */
export interface FamilyTrainRequest {
  model_dir: string;
  rows: FamilyTrainRow[];
  args?: Record<string, unknown>;
  out: string;
  pos_weight?: number;
  variant?: { threads?: number; reverse_rows?: boolean; pad?: number; split_rows?: boolean };
  mutation?: { lr_scale?: number; no_decay?: string; skip_step?: number; loss_divisor?: 'group' | 'accumulation_steps' };
}

/** One run's answer: per-step records as train_reference.py (null where PyTorch gave no finite number). */
export interface FamilyTrainAnswer {
  steps: { step: number; loss: number | null; grad_norm: number | null; learning_rate: number; batch_indices: number[][] }[];
  train_loss: number | null;
  max_steps: number;
  warmup_steps: number;
}

/** Runs several `family_reference.py train` runs in one Python process; final weights go to each run's `out`. */
export async function familyTrain(runs: FamilyTrainRequest[]): Promise<FamilyTrainAnswer[]> {
  return (await runPythonJson<{ runs: FamilyTrainAnswer[] }>('family_reference.py', ['train'], { runs })).runs;
}

/** The official Rust tokenizer's encoding of pairs (make_tokenizers.mjs `encode`): special tokens in, no padding. */
export interface RustEncoding {
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
  tokens: string[][];
}

/** Encodes `[query, document]` pairs with `modelDir`'s tokenizer.json through npm `tokenizers`. */
export function rustEncode(modelDir: string, pairs: ReadonlyArray<readonly [string, string]>): Promise<RustEncoding> {
  const script = path.join(REFERENCE_DIR, 'make_tokenizers.mjs');
  return new Promise<RustEncoding>((resolve, reject) => {
    const child = spawn(process.execPath, [script, 'encode'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, RAYON_NUM_THREADS: '1' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`make_tokenizers.mjs encode exited with status ${code}: ${Buffer.concat(err).toString('utf8')}`));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as RustEncoding);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify({ tokenizer: modelDir, pairs }));
  });
}

/** Right-pads encodings to their longest row with `padId` (mask 0, type 0), as a batch for {@link familyPredict}. */
export function padBatch(encoding: Pick<RustEncoding, 'input_ids' | 'token_type_ids' | 'attention_mask'>, padId: number): Required<Pick<FamilyPredictRequest, 'input_ids' | 'token_type_ids' | 'attention_mask'>> {
  const width = Math.max(...encoding.input_ids.map((row) => row.length));
  const pad = (row: number[], value: number) => [...row, ...new Array<number>(width - row.length).fill(value)];
  return {
    input_ids: encoding.input_ids.map((row) => pad(row, padId)),
    token_type_ids: encoding.token_type_ids.map((row) => pad(row, 0)),
    attention_mask: encoding.attention_mask.map((row) => pad(row, 0)),
  };
}

/** A copy of test model `name` in `dir` with every dropout off (training runs compared step for step). */
export async function copyWithoutDropout(name: TestModelName, dir: string): Promise<string> {
  await cp(testModel(name), dir, { recursive: true });
  const configFile = path.join(dir, 'config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
  Object.assign(config, { hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, classifier_dropout: 0 });
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return dir;
}
