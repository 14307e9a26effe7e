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
} as const;

/** Weight files in order of preference: pickle weights only when there are no safetensors. */
export const WEIGHT_FILES = [MODEL_FILE.safetensors, MODEL_FILE.pytorchBin] as const;

/** The tokenizer's files; a tokenizer can be built from either of {@link VOCABULARY_FILES}. */
export const TOKENIZER_FILES = [MODEL_FILE.tokenizer, MODEL_FILE.tokenizerConfig, MODEL_FILE.specialTokensMap, MODEL_FILE.vocab] as const;
export const VOCABULARY_FILES = [MODEL_FILE.tokenizer, MODEL_FILE.vocab] as const;
