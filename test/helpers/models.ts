/**
 * The generated test models (test/reference/generate_models.py) and the Python reference's
 * `predict` command over them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { runPythonJson } from './python.js';

/** `test/.models/`, where `scripts/test-setup.sh` generates the test models. */
export const MODELS_DIR = fileURLToPath(new URL('../.models/', import.meta.url));

/** The models generate_models.py writes (see its docstring). */
export type TestModelName = 'tiny' | 'minilm-l6' | 'tiny-bin' | 'tiny-f16' | 'tiny-3labels' | 'tiny-gelu-new';

/** The directory of a generated test model; throws a hint to generate them when it is missing. */
export function testModel(name: TestModelName): string {
  const dir = path.join(MODELS_DIR, name);
  if (!existsSync(path.join(dir, 'config.json'))) {
    throw new Error(`test model ${dir} is missing: run \`bash scripts/test-setup.sh\` (or npm test) first`);
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
