/** The options shared by the commands that load a model, and loading it from them. */
import { ACTIVATIONS } from '../model/activation.js';
import { CrossEncoder, DEFAULT_MODEL, MODEL_DTYPES, type ModelDtype } from '../model/cross-encoder.js';

import type { OptionSpec, OptionSpecs, ParsedOptions } from './options.js';

const DEFAULT_BATCH_SIZE = 32;

const MODEL_GROUP = 'Model options';

/** Options of every command that loads a model. */
export const MODEL_OPTIONS = {
  model: {
    kind: 'string',
    short: 'm',
    value: '<path|id>',
    help: 'Model directory or Hugging Face hub id',
    default: DEFAULT_MODEL,
    group: MODEL_GROUP,
  },
  revision: { kind: 'string', value: '<rev>', help: 'Hub branch, tag or commit; default: main', group: MODEL_GROUP },
  'cache-dir': { kind: 'string', value: '<dir>', help: 'Hugging Face cache; default: HF_HUB_CACHE, else ~/.cache/huggingface/hub', group: MODEL_GROUP },
  'local-files-only': { kind: 'boolean', help: 'Never use the network, only the cache; also HF_HUB_OFFLINE=1', group: MODEL_GROUP },
} as const satisfies OptionSpecs;

export const BATCH_SIZE_OPTION = {
  kind: 'integer',
  min: 1,
  value: '<n>',
  help: 'Pairs per forward pass',
  default: DEFAULT_BATCH_SIZE,
} as const satisfies OptionSpec;

export const MAX_LENGTH_OPTION = {
  kind: 'integer',
  min: 3,
  value: '<n>',
  help: "Maximum tokens per pair; default: the model's",
} as const satisfies OptionSpec;

export const ACTIVATION_OPTION = {
  kind: 'string',
  value: `<${ACTIVATIONS.join('|')}>`,
  choices: ACTIVATIONS,
  help: "Applied to the logits; default: the model's (sigmoid for one label)",
} as const satisfies OptionSpec;

/** `--dtype`, of the commands that only run the model (predict, rank, eval, serve): `fromPretrained`'s `dtype`. */
export const DTYPE_OPTION = {
  kind: 'string',
  value: `<${MODEL_DTYPES.join('|')}>`,
  choices: MODEL_DTYPES,
  help: 'Inference arithmetic: int8 runs the Linear layers dynamically quantised (faster, scores move slightly); default: float32',
  group: MODEL_GROUP,
} as const satisfies OptionSpec;

type ModelValues = ParsedOptions<typeof MODEL_OPTIONS> & { 'max-length'?: number; dtype?: string };

export function loadModel(values: ModelValues): Promise<CrossEncoder> {
  return CrossEncoder.fromPretrained(values.model, {
    revision: values.revision,
    cacheDir: values['cache-dir'],
    localFilesOnly: values['local-files-only'] === true ? true : undefined,
    maxLength: values['max-length'],
    dtype: values.dtype as ModelDtype | undefined, // `choices` checked it
  });
}
