/**
 * The file names of a Hugging Face model directory, as transformers and Sentence Transformers
 * write them: the one table the loaders, the downloader and `savePretrained` share.
 */

/** Every file name, by role. */
export const MODEL_FILE = {
  /** The architecture and head (Hugging Face's `PretrainedConfig`). */
  config: 'config.json',
  safetensors: 'model.safetensors',
  /** The pickled `torch.save` state dict older checkpoints ship. */
  pytorchBin: 'pytorch_model.bin',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  specialTokensMap: 'special_tokens_map.json',
  /** WordPiece vocabulary, one token per line. */
  vocab: 'vocab.txt',
  /** The model card. */
  readme: 'README.md',
  /** Sentence Transformers' module chain (the modular format, v5.4+; older versions too). */
  modules: 'modules.json',
  /** Sentence Transformers' model settings: the activation, prompts, versions. */
  stConfig: 'config_sentence_transformers.json',
  /** The Transformer module's settings (its task, its output). */
  sentenceBertConfig: 'sentence_bert_config.json',
} as const;

/** Weight files in order of preference: pickle weights only when there are no safetensors. */
export const WEIGHT_FILES = [MODEL_FILE.safetensors, MODEL_FILE.pytorchBin] as const;

/** The tokenizer's files; a tokenizer can be built from either of {@link VOCABULARY_FILES}. */
export const TOKENIZER_FILES = [MODEL_FILE.tokenizer, MODEL_FILE.tokenizerConfig, MODEL_FILE.specialTokensMap, MODEL_FILE.vocab] as const;
export const VOCABULARY_FILES = [MODEL_FILE.tokenizer, MODEL_FILE.vocab] as const;

/** Sentence Transformers' files at the root of a model directory, each optional. */
export const SENTENCE_TRANSFORMERS_FILES = [MODEL_FILE.modules, MODEL_FILE.stConfig, MODEL_FILE.sentenceBertConfig] as const;

/**
 * The sub-folders of the modules `modules.json` lists (`2_Dense` …), where each keeps its
 * config.json and its weights. Malformed entries and paths that are not a plain folder name are
 * skipped (the loader names them).
 */
export function moduleFolders(modulesJson: string): string[] {
  let modules: unknown;
  try {
    modules = JSON.parse(modulesJson);
  } catch {
    return [];
  }
  if (!Array.isArray(modules)) return [];
  return modules
    .map((module) => (module as { path?: unknown })?.path)
    .filter((folder): folder is string => typeof folder === 'string' && /^[\w-][\w.-]*$/.test(folder) && folder !== '..');
}
