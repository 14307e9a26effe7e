/**
 * Sentence Transformers' modular CrossEncoder layout (v5.4+), as the Ettin rerankers ship it:
 * `modules.json` lists a Transformer module loading the family's base model (AutoModel keys in
 * the root `model.safetensors`), then Pooling, and Dense / LayerNorm modules in sub-folders
 * (`2_Dense/config.json` + `model.safetensors` with `linear.weight` …), the last of which writes
 * the scores. Reading it, the native model it becomes (`model_type: modular`), its weights by
 * module, and writing it back as Sentence Transformers does.
 */
import { access, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { ModelFormatError } from '../errors.js';
import { MODEL_FILE, WEIGHT_FILES } from '../model-files.js';
import type { NativeLoadReport, NativeModel, NativeModelConfig } from '../native.js';

import type { ModelFamily } from './families/index.js';
import { checkTensorNames } from './load-report.js';
import type { ParameterCount } from './model-size.js';

const MODULES_FILE = MODEL_FILE.modules;
const SENTENCE_BERT_CONFIG_FILE = MODEL_FILE.sentenceBertConfig;

/** One `modules.json` entry. */
export interface ModuleEntry {
  idx: number;
  name: string;
  path: string;
  type: string;
}

/** A Dense or LayerNorm module after the pooling. */
export interface HeadModule {
  entry: ModuleEntry;
  kind: 'dense' | 'layer_norm';
  /** Its `config.json`, written back as read. */
  config: Record<string, unknown>;
  /** Dense: in and out widths, bias, activation (our short name); LayerNorm: its width as both. */
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  activation: string;
}

/** A modular CrossEncoder directory, read. */
export interface ModularLayout {
  /** The directory it was read from (named in errors). */
  dir: string;
  modules: ModuleEntry[];
  /** The Transformer module's `sentence_bert_config.json`. */
  transformerConfig: Record<string, unknown>;
  pooling: { entry: ModuleEntry; config: Record<string, unknown>; mode: string };
  head: HeadModule[];
}

const POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len_tokens', 'weightedmean', 'lasttoken'];
// Pooling's legacy config keys, in the order Sentence Transformers reads them.
const LEGACY_POOLING_KEYS: Array<[string, string]> = [
  ['pooling_mode_cls_token', 'cls'],
  ['pooling_mode_max_tokens', 'max'],
  ['pooling_mode_mean_tokens', 'mean'],
  ['pooling_mode_mean_sqrt_len_tokens', 'mean_sqrt_len_tokens'],
  ['pooling_mode_weightedmean_tokens', 'weightedmean'],
  ['pooling_mode_lasttoken', 'lasttoken'],
];
/** torch.nn activation classes a Dense may use, by the short names the native head takes. */
const DENSE_ACTIVATIONS: Readonly<Record<string, string>> = {
  'torch.nn.modules.linear.Identity': 'identity',
  'torch.nn.modules.activation.GELU': 'gelu',
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.modules.activation.ReLU': 'relu',
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
  'torch.nn.modules.activation.SiLU': 'silu',
};

/** The class name of a module type (`sentence_transformers.models.Pooling` and `….pooling.Pooling` alike). */
const className = (type: string) => type.split('.').pop() ?? type;

async function readJson(file: string, what: string): Promise<Record<string, unknown>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ModelFormatError(`${file} (${what}) is missing or not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== 'object' || json === null) throw new ModelFormatError(`${file} (${what}) must hold a JSON object or array`);
  return json as Record<string, unknown>;
}

/**
 * The modular layout of `dir`, or undefined when the directory is a plain sequence classifier
 * (no `modules.json`, or one whose only module is the Transformer).
 * @throws ModelFormatError naming the file and the module that cannot be used.
 */
export async function readModularLayout(dir: string): Promise<ModularLayout | undefined> {
  const modulesFile = path.join(dir, MODULES_FILE);
  let text: string;
  try {
    text = await readFile(modulesFile, 'utf8');
  } catch {
    return undefined;
  }
  let modules: unknown;
  try {
    modules = JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(`${modulesFile} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(modules) || !modules.every(isModuleEntry)) {
    throw new ModelFormatError(`${modulesFile} must be a list of {idx, name, path, type} entries`);
  }
  if (modules.length === 0 || className(modules[0].type) !== 'Transformer') {
    throw new ModelFormatError(`${modulesFile}: the first module must be a Transformer, got ${modules[0]?.type ?? 'none'}`);
  }
  if (modules.length === 1) return undefined;
  const transformerConfig: Record<string, unknown> = await readJson(path.join(dir, modules[0].path, SENTENCE_BERT_CONFIG_FILE), 'the Transformer module').catch(() => ({}));
  const task = transformerConfig.transformer_task ?? 'feature-extraction';
  if (task !== 'feature-extraction') {
    throw new ModelFormatError(`${modulesFile}: a Transformer with transformer_task '${String(task)}' followed by other modules is not supported`);
  }
  const [pooling, ...rest] = modules.slice(1);
  if (className(pooling.type) !== 'Pooling') throw new ModelFormatError(`${modulesFile}: module ${pooling.name} must be a Pooling, got ${pooling.type}`);
  const poolingConfig = await readJson(path.join(dir, pooling.path, MODEL_FILE.config), `module ${pooling.name} (Pooling)`);
  const head: HeadModule[] = [];
  for (const entry of rest) head.push(await readHeadModule(dir, entry, modulesFile));
  if (head.length === 0 || head[head.length - 1].kind !== 'dense') {
    throw new ModelFormatError(`${modulesFile}: the last module must be a Dense that writes the scores`);
  }
  checkFeatureFlow(dir, head);
  const mode = poolingMode(poolingConfig, pooling, modulesFile);
  checkWidths(dir, pooling, poolingConfig, head);
  return { dir, modules, transformerConfig, pooling: { entry: pooling, config: poolingConfig, mode }, head };
}

/**
 * Dense modules read and write named features: every Dense but the last must read and write
 * `sentence_embedding` (what the LayerNorms and the next Dense read), the last must write `scores`
 * (what CrossEncoder.predict reads).
 */
function checkFeatureFlow(dir: string, head: readonly HeadModule[]): void {
  head.forEach((module, i) => {
    if (module.kind !== 'dense') return;
    const file = path.join(dir, module.entry.path, MODEL_FILE.config);
    const input = module.config.module_input_name ?? 'sentence_embedding';
    const output = module.config.module_output_name ?? input;
    const wanted = i === head.length - 1 ? 'scores' : 'sentence_embedding';
    if (input !== 'sentence_embedding') {
      throw new ModelFormatError(`${file}: module ${module.entry.name} (Dense) reads ${JSON.stringify(input)}; only "sentence_embedding" (the pooled vector) is supported`);
    }
    if (output !== wanted) {
      throw new ModelFormatError(`${file}: module ${module.entry.name} (Dense) writes ${JSON.stringify(output)}, but ${i === head.length - 1 ? 'the last module must write "scores"' : 'a Dense before the last must write "sentence_embedding"'}`);
    }
  });
}

/** Each module's input width is the width before it: the pooling's embedding dimension, then each module's output. */
function checkWidths(dir: string, pooling: ModuleEntry, poolingConfig: Record<string, unknown>, head: readonly HeadModule[]): void {
  const dimension = poolingConfig.embedding_dimension ?? poolingConfig.word_embedding_dimension;
  if (dimension !== undefined && (!Number.isInteger(dimension) || (dimension as number) < 1)) {
    throw new ModelFormatError(`${path.join(dir, pooling.path, MODEL_FILE.config)}: module ${pooling.name} (Pooling): "embedding_dimension" must be a positive integer`);
  }
  let width = dimension as number | undefined;
  let from = `module ${pooling.name} (Pooling) gives ${width}`;
  for (const module of head) {
    if (width !== undefined && module.inFeatures !== width) {
      const key = module.kind === 'dense' ? 'in_features' : 'dimension';
      throw new ModelFormatError(
        `${path.join(dir, module.entry.path, MODEL_FILE.config)}: module ${module.entry.name} (${module.kind === 'dense' ? 'Dense' : 'LayerNorm'}) has ${key} ${module.inFeatures}, but ${from}`,
      );
    }
    width = module.outFeatures;
    from = `module ${module.entry.name} writes ${width}`;
  }
}

function isModuleEntry(value: unknown): value is ModuleEntry {
  const e = value as ModuleEntry;
  return typeof e === 'object' && e !== null && typeof e.name === 'string' && typeof e.path === 'string' && typeof e.type === 'string' && !e.path.split(/[\\/]/).includes('..');
}

function poolingMode(config: Record<string, unknown>, entry: ModuleEntry, file: string): string {
  let mode = config.pooling_mode;
  if (mode === undefined) {
    const active = LEGACY_POOLING_KEYS.filter(([key]) => config[key] === true).map(([, name]) => name);
    mode = active.length === 0 ? 'mean' : active.length === 1 ? active[0] : active;
  }
  if (Array.isArray(mode) && mode.length === 1) mode = mode[0];
  if (typeof mode !== 'string' || !POOLING_MODES.includes(mode)) {
    throw new ModelFormatError(`${file}: module ${entry.name} pools by ${JSON.stringify(mode)}; supported: one of ${POOLING_MODES.join(', ')}`);
  }
  if (config.include_prompt === false) throw new ModelFormatError(`${file}: module ${entry.name}: include_prompt false is not supported`);
  return mode;
}

async function readHeadModule(dir: string, entry: ModuleEntry, file: string): Promise<HeadModule> {
  const kind = className(entry.type);
  const config = await readJson(path.join(dir, entry.path, MODEL_FILE.config), `module ${entry.name} (${kind})`);
  const positive = (key: string) => {
    const value = config[key];
    if (!Number.isInteger(value) || (value as number) < 1) throw new ModelFormatError(`${file}: module ${entry.name}: "${key}" must be a positive integer`);
    return value as number;
  };
  if (kind === 'LayerNorm') {
    const dimension = positive('dimension');
    return { entry, kind: 'layer_norm', config, inFeatures: dimension, outFeatures: dimension, bias: true, activation: 'identity' };
  }
  if (kind !== 'Dense') {
    throw new ModelFormatError(`${file}: module ${entry.name} is a ${entry.type}; after the pooling only Dense and LayerNorm modules are supported`);
  }
  const classPath = typeof config.activation_function === 'string' ? config.activation_function : 'torch.nn.modules.activation.Tanh';
  const activation = DENSE_ACTIVATIONS[classPath];
  if (activation === undefined) {
    throw new ModelFormatError(`${file}: module ${entry.name}: activation_function '${classPath}' is not supported; supported: ${Object.keys(DENSE_ACTIVATIONS).join(', ')}`);
  }
  if (config.use_residual === true) throw new ModelFormatError(`${file}: module ${entry.name}: use_residual is not supported`);
  const bias = config.bias ?? true;
  if (typeof bias !== 'boolean') throw new ModelFormatError(`${file}: module ${entry.name}: "bias" must be a boolean`);
  return { entry, kind: 'dense', config, inFeatures: positive('in_features'), outFeatures: positive('out_features'), bias, activation };
}

/** The number of scores the last Dense writes. */
export function modularNumLabels(layout: ModularLayout): number {
  return layout.head[layout.head.length - 1].outFeatures;
}

/** The native config: the base model's under `trunk.`, the pooling and each head module under `head.<i>.`. */
export function modularNativeConfig(layout: ModularLayout, trunk: NativeModelConfig): NativeModelConfig {
  // The pooled vector is the base model's hidden state: the first module after the pooling reads that width.
  const first = layout.head[0];
  if (first.inFeatures !== trunk.hidden_size) {
    throw new ModelFormatError(
      `${path.join(layout.dir, first.entry.path, MODEL_FILE.config)}: module ${first.entry.name} (${first.kind === 'dense' ? 'Dense' : 'LayerNorm'}) ` +
        `has ${first.kind === 'dense' ? 'in_features' : 'dimension'} ${first.inFeatures}, but the base model's hidden_size is ${String(trunk.hidden_size)}`,
    );
  }
  const native: NativeModelConfig = {
    model_type: 'modular',
    num_labels: modularNumLabels(layout),
    hidden_size: trunk.hidden_size as number,
    pooling_mode: layout.pooling.mode,
    'head.count': layout.head.length,
  };
  for (const [key, value] of Object.entries(trunk)) native[`trunk.${key}`] = value;
  layout.head.forEach((module, i) => {
    const at = `head.${i}.`;
    native[`${at}name`] = module.entry.name;
    native[`${at}type`] = module.kind;
    if (module.kind === 'layer_norm') {
      native[`${at}dimension`] = module.inFeatures;
    } else {
      native[`${at}in_features`] = module.inFeatures;
      native[`${at}out_features`] = module.outFeatures;
      native[`${at}bias`] = module.bias;
      native[`${at}activation`] = module.activation;
    }
  });
  return native;
}

/** The base model's parameters (the family's count without its head) and the modules'. */
export function modularParameterCount(layout: ModularLayout, family: ModelFamily, trunk: NativeModelConfig): ParameterCount {
  const base = family.parameterCount(trunk);
  const head = layout.head.reduce((sum, m) => sum + (m.kind === 'dense' ? m.inFeatures * m.outFeatures + (m.bias ? m.outFeatures : 0) : 2 * m.inFeatures), 0);
  return { total: base.total - base.head + head, head };
}

async function moduleWeightsFile(dir: string, entry: ModuleEntry): Promise<string> {
  for (const name of WEIGHT_FILES) {
    const file = path.join(dir, name);
    if (await access(file).then(() => true, () => false)) return file;
  }
  throw new ModelFormatError(`module ${entry.name} (${className(entry.type)}) in ${dir} has no weights: looked for ${WEIGHT_FILES.join(', ')}`);
}

/**
 * Loads every module's weights: the base model's from `rootWeights` into module "0", each Dense
 * and LayerNorm from its folder. Every parameter must come from a file.
 * @throws ModelFormatError naming the file and the tensors missing or in excess.
 */
export async function loadModularWeights(native: NativeModel, dir: string, rootWeights: string, layout: ModularLayout, family: ModelFamily): Promise<void> {
  const check = (report: NativeLoadReport, file: string, ignored: readonly RegExp[]) => {
    const unexpected = report.unexpected.filter((name) => !ignored.some((re) => re.test(name)));
    checkTensorNames(file, MODULES_FILE, report.missing, unexpected);
  };
  // The base model's own checkpoint may carry pooler or pre-training heads (a BertModel's pooler is part of it).
  check(await native.loadWeights(rootWeights, '0.'), rootWeights, family.ignoredTensors);
  for (const module of layout.head) {
    const file = await moduleWeightsFile(path.join(dir, module.entry.path), module.entry);
    check(await native.loadWeights(file, `${module.entry.name}.`), file, []);
  }
}

/** Writes the module files of `layout` into `dir` (the root weights are written by the caller with scope `0.`). */
export async function writeModularFiles(native: NativeModel, dir: string, layout: ModularLayout, writeText: (file: string, text: string) => Promise<void>): Promise<void> {
  await writeText(path.join(dir, MODULES_FILE), `${JSON.stringify(layout.modules, null, 2)}\n`);
  await writeText(path.join(dir, SENTENCE_BERT_CONFIG_FILE), JSON.stringify(layout.transformerConfig, null, 4));
  await mkdir(path.join(dir, layout.pooling.entry.path), { recursive: true });
  await writeText(path.join(dir, layout.pooling.entry.path, MODEL_FILE.config), JSON.stringify(layout.pooling.config, null, 4));
  for (const module of layout.head) {
    const folder = path.join(dir, module.entry.path);
    await mkdir(folder, { recursive: true });
    await writeText(path.join(folder, MODEL_FILE.config), JSON.stringify(module.config, null, 4));
    await native.saveWeights(path.join(folder, MODEL_FILE.safetensors), { format: 'pt' }, `${module.entry.name}.`);
  }
}
