/**
 * Saves a cross-encoder as a directory that Hugging Face transformers and every Sentence
 * Transformers version load with the same scores: config.json, model.safetensors, the tokenizer
 * files, the Sentence Transformers module files, a model card and the training-loss picture.
 *
 * Which file each reader takes the activation from:
 * - Sentence Transformers ≥ 5.4 loads the modules listed in `modules.json` and reads
 *   `activation_fn` from `config_sentence_transformers.json`;
 * - 4.0 – 5.3 read `config.json` → `sentence_transformers.activation_fn`;
 * - 2.x – 3.x read `config.json` → `sbert_ce_default_activation_function`.
 * All three are written, with the same class path.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { writeDirectoryAtomic } from '../atomic-file.js';
import { FileSystemError, InvalidArgumentError } from '../errors.js';
import { MODEL_FILE } from '../model-files.js';
import { nativeInfo, type NativeModel } from '../native.js';
import { optionNames } from '../option-names.js';

import { ACTIVATION_CLASS_PATHS } from './activation.js';
import type { ConfigJson } from './config.js';
import { LOSS_PLOT_FILE, renderLossPlot } from './loss-plot.js';
import type { LoadedCard } from './model-card-origin.js';
import { isTrained, labelNames, type ModelCardData, type ModelCardModel, renderModelCard } from './model-card.js';
import { modelFamily, modelTypeOf } from './families/index.js';
import { type ModularLayout, writeModularFiles } from './modular.js';
import { checkNoNul } from './pairs.js';

/** What a saved directory is made of: a {@link CrossEncoder} is one (`weights` come beside it). */
export interface SavableModel extends ModelCardModel {
  readonly tokenizer: { save(dir: string): Promise<void> };
  readonly modelCardData?: ModelCardData;
  /** A modular CrossEncoder's module chain, written back as read. */
  readonly modularLayout?: ModularLayout;
}

/** Options of {@link savePretrained}. */
export interface SavePretrainedOptions {
  /**
   * Hub id the model card's usage snippets load the model from (where it will be published).
   * Default: the placeholder `cross_encoder_model_id`, as Sentence Transformers writes; local
   * paths are never written into a card.
   */
  modelId?: string;
}

export const SAVE_PRETRAINED_OPTION_NAMES = optionNames<SavePretrainedOptions>({ modelId: true });

/**
 * The Sentence Transformers release whose directory layout is written: 5.4 introduced the
 * modular CrossEncoder (`modules.json`, `config_sentence_transformers.json`).
 */
export const SENTENCE_TRANSFORMERS_VERSION = '5.4.0';

/**
 * The transformers release whose `config.json` format is written (it still names the weight
 * type `torch_dtype`, which later releases read too); Sentence Transformers 5.4 supports it.
 */
export const TRANSFORMERS_VERSION = '4.48.0';

/** The module path Sentence Transformers ≥ 5.4 records for its Transformer module. */
const TRANSFORMER_MODULE_TYPE = 'sentence_transformers.base.modules.transformer.Transformer';


/**
 * Writes the model into `dir`. The files are written to a temporary sibling directory that
 * replaces `dir` only once complete, so an interrupted or failed save never leaves a partial
 * model at `dir`; an existing `dir` is replaced (and restored if the replacement fails). A
 * process killed mid-save leaves hidden siblings named with its pid; the next save of `dir` (or
 * `fromPretrained(dir)` when `dir` is missing) puts the old directory back or deletes them, so
 * `dir` is always the old model or the new one.
 * @throws InvalidArgumentError for an empty `dir`.
 * @throws FileSystemError naming the path that could not be created or written.
 */
export async function savePretrained(
  model: SavableModel,
  weights: NativeModel,
  dir: string,
  options: SavePretrainedOptions = {},
  loadedCard?: LoadedCard,
): Promise<void> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new InvalidArgumentError('savePretrained(dir): dir must be a non-empty string');
  }
  checkNoNul(dir, 'savePretrained(dir): dir');
  if (options.modelId !== undefined && (typeof options.modelId !== 'string' || options.modelId === '')) {
    throw new InvalidArgumentError(`savePretrained(): modelId must be a non-empty string, got ${JSON.stringify(options.modelId)}`);
  }
  const target = path.resolve(dir);
  if (path.dirname(target) === target) throw new InvalidArgumentError(`savePretrained(dir): cannot replace the root directory ${target}`);
  await writeDirectoryAtomic(target, (staging) => writeModelFiles(model, weights, staging, options.modelId, loadedCard), 'the model');
}

/** Writes every file of the saved model into `dir` (the staging directory). */
async function writeModelFiles(
  model: SavableModel,
  weights: NativeModel,
  dir: string,
  modelId: string | undefined,
  loadedCard: LoadedCard | undefined,
): Promise<void> {
  const data = model.modelCardData ?? {};
  const layout = model.modularLayout;
  // A modular model's root file holds its base model (module "0") with AutoModel names.
  await weights.saveWeights(path.join(dir, MODEL_FILE.safetensors), { format: 'pt' }, layout ? '0.' : '');
  await model.tokenizer.save(dir);
  await recordMaxLength(dir, model.maxLength);

  const activationFn = ACTIVATION_CLASS_PATHS[model.activation];
  await writeText(path.join(dir, MODEL_FILE.config), `${sortedJson(buildConfigJson(model), 2)}\n`);
  for (const [file, value, indent] of sentenceTransformersFiles(activationFn)) {
    if (layout && file !== MODEL_FILE.stConfig) continue; // the modular chain's own modules.json and configs follow
    await writeText(path.join(dir, file), JSON.stringify(value, null, indent));
  }
  if (layout) await writeModularFiles(weights, dir, layout, writeText);

  if (loadedCard?.readme !== undefined && !isTrained(data)) {
    // Not trained since it was loaded: its card (and the plot the card shows) still describe it.
    await writeText(path.join(dir, MODEL_FILE.readme), loadedCard.readme);
    if (loadedCard.lossPlot !== undefined) await writeText(path.join(dir, LOSS_PLOT_FILE), loadedCard.lossPlot);
    return;
  }
  const plot = data.logHistory ? renderLossPlot(data.logHistory, { stepLosses: data.stepLosses, bestStep: data.bestGlobalStep }) : undefined;
  if (plot !== undefined) await writeText(path.join(dir, LOSS_PLOT_FILE), plot);
  // The card links the picture only when it was written here.
  const card = renderModelCard(model, { ...data, lossPlot: plot === undefined ? undefined : LOSS_PLOT_FILE }, { modelId });
  await writeText(path.join(dir, MODEL_FILE.readme), card);
}

/**
 * The config.json to save: the model's own config (unknown fields kept) with the sequence
 * classification architecture, its labels, float32 weights and the activation for every
 * Sentence Transformers version.
 */
export function buildConfigJson(model: Pick<SavableModel, 'config' | 'numLabels' | 'activation' | 'modularLayout'>): ConfigJson {
  const labels = labelNames(model.config, model.numLabels);
  const activationFn = ACTIVATION_CLASS_PATHS[model.activation];
  const previous = model.config.sentence_transformers;
  const config: ConfigJson = {
    ...model.config,
    // A modular model's config.json is its base model's (AutoModel), as Sentence Transformers saves it.
    architectures: model.modularLayout ? model.config.architectures : [modelFamily(model.config, 'config.json').architecture],
    model_type: modelTypeOf(model.config),
    id2label: Object.fromEntries(labels.map((label, i) => [String(i), label])),
    label2id: Object.fromEntries(labels.map((label, i) => [label, i])),
    torch_dtype: 'float32',
    transformers_version: TRANSFORMERS_VERSION,
    sentence_transformers: {
      ...(previous && typeof previous === 'object' && !Array.isArray(previous) ? previous : {}),
      activation_fn: activationFn,
      version: SENTENCE_TRANSFORMERS_VERSION,
    },
    sbert_ce_default_activation_function: activationFn,
  };
  // Hugging Face derives num_labels from id2label and never saves it; a stale one would contradict.
  delete config.num_labels;
  // transformers ≥ 4.56 names the weight type `dtype`; the weights are float32 now, whatever it said.
  delete config.dtype;
  return config;
}

/** The files of Sentence Transformers' modular format, as 5.4 writes them: [file, content, JSON indent]. */
function sentenceTransformersFiles(activationFn: string): Array<[string, unknown, number]> {
  return [
    [
      MODEL_FILE.stConfig,
      {
        model_type: 'CrossEncoder',
        __version__: {
          sentence_transformers: SENTENCE_TRANSFORMERS_VERSION,
          transformers: TRANSFORMERS_VERSION,
          pytorch: nativeInfo().torchVersion,
        },
        prompts: {},
        default_prompt_name: null,
        activation_fn: activationFn,
      },
      2,
    ],
    ['modules.json', [{ idx: 0, name: '0', path: '', type: TRANSFORMER_MODULE_TYPE }], 2],
    [
      'sentence_bert_config.json',
      {
        transformer_task: 'sequence-classification',
        modality_config: { text: { method: 'forward', method_output_name: 'logits' } },
        module_output_name: 'scores',
      },
      4,
    ],
  ];
}

/**
 * Records the model's maximum length as the tokenizer's `model_max_length`, as Sentence
 * Transformers saves a `max_length` given at load time; reloading then gives the same length.
 */
async function recordMaxLength(dir: string, maxLength: number): Promise<void> {
  const file = path.join(dir, MODEL_FILE.tokenizerConfig);
  const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  if (config.model_max_length === maxLength) return;
  await writeText(file, `${JSON.stringify({ ...config, model_max_length: maxLength }, null, 2)}\n`);
}

async function writeText(file: string, text: string): Promise<void> {
  try {
    await writeFile(file, text, 'utf8');
  } catch (error) {
    throw new FileSystemError(`Cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** JSON with object keys sorted at every level, as transformers writes config.json. */
function sortedJson(value: unknown, indent: number): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((key) => [key, sort((v as Record<string, unknown>)[key])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value), null, indent);
}
