"""Writes the test models: Hugging Face BertForSequenceClassification directories with seeded
random weights in the shapes of the real checkpoints, and the real bert-base-uncased tokenizer.

    /usr/bin/python3 test/reference/generate_models.py --out test/.models [--force]

Output (one directory per model, each with config.json, weights, tokenizer.json, vocab.txt,
tokenizer_config.json, special_tokens_map.json):
    tiny/           vocab 30522, hidden 32, 2 layers, 2 heads, intermediate 64, 1 label, gelu,
                    no sentence_transformers key (CrossEncoder's default activation: sigmoid)
    minilm-l6/      the cross-encoder/ms-marco-MiniLM-L6-v2 shape (hidden 384, 6 layers, 12 heads,
                    intermediate 1536), activation_fn Identity as in the MS MARCO configs
    tiny-bin/       tiny's weights as pytorch_model.bin only (torch.save of the state dict's
                    OrderedDict, zip format, with the legacy bert.embeddings.position_ids buffer)
    tiny-f16/       tiny's weights stored as F16 safetensors
    tiny-3labels/   tiny with a 3-label head (NLI-style id2label)
    tiny-gelu-new/  tiny's weights with hidden_act gelu_new
The other families (families/*.py; tokenizers: families/tokenizer_files.py), all 1 label, hidden
32, 2 heads, seeded values as tiny's (families.common.init_test_weights):
    tiny-roberta/         RobertaForSequenceClassification, 2 layers, intermediate 64, byte-level
                          BPE vocab 2000 (trained here on families/corpus.py's text),
                          max_position_embeddings 514, type_vocab_size 1, layer_norm_eps 1e-5
    tiny-xlm-roberta/     the same shape as model_type xlm-roberta, with the Unigram tokenizer of
                          test/fixtures/tiny-xlm-roberta/sentencepiece.bpe.model (vocab 3002,
                          Precompiled nmt_nfkc normalizer)
    tiny-electra/         ElectraForSequenceClassification, embedding_size 16 (so
                          electra.embeddings_project exists), 2 layers, intermediate 64,
                          bert-base-uncased's WordPiece (vocab 30522)
    tiny-modernbert/      ModernBertForSequenceClassification, 4 layers (0 and 3 global, 1 and 2
                          local), intermediate 48, local_attention 8, classifier_pooling "cls",
                          byte-level BPE vocab 2000 with ModernBERT's specials
    tiny-modernbert-mean/ tiny-modernbert's weights with classifier_pooling "mean"
Sentence Transformers' modular CrossEncoder layout (ST >= 5.4, as the Ettin rerankers ship it;
families/modular.py reads it back):
    tiny-ettin/           modules.json [Transformer, Pooling, Dense, LayerNorm, Dense]: root
                          config.json of the AutoModel (architectures ["ModernBertModel"], saved
                          diff-style: no id2label), model.safetensors = tiny-modernbert's `model.*`
                          tensors without `model.`, its tokenizer files, sentence_bert_config.json
                          (feature-extraction), config_sentence_transformers.json (Identity);
                          1_Pooling "cls"; 2_Dense 32->32 GELU no bias; 3_LayerNorm(32); 4_Dense
                          32->1 with bias, Identity, writing "scores". Head values seeded by
                          name: 2_Dense N(0, 1) * 0.2 / sqrt(32) (small on purpose: the LayerNorm
                          after it sees a variance ~1e-2, so its eps shows in the scores),
                          3_LayerNorm weight 1 + N(0, 0.1), bias N(0, 0.1), 4_Dense as nn.Linear.
    tiny-ettin-mean/      the same with mean pooling written in Pooling's legacy keys
                          (word_embedding_dimension, pooling_mode_*_token(s) booleans) and a
                          config.json with HF's default two labels (id2label LABEL_0, LABEL_1)
With --real-shapes (not part of the default run: ~4.5 GB, about a minute), models in the shapes of
real checkpoints, with the tiny tokenizers padded with unused tokens to the real vocab size:
    bge-reranker-base/ bge-reranker-large/ (XLM-R base / large), distilroberta-base/,
    electra-base/ (ELECTRA-base discriminator), gte-reranker-modernbert-base/ (ModernBERT-base).
    They have their own stamp (.stamp-real-shapes.json).

The bytes are a function of the inputs (this script, the reference modules it imports, the
tokenizer fixtures, make_tokenizers.mjs and the version of the npm `tokenizers` it runs): a stamp file records a hash of them and the size of every file written, and a
run that finds both unchanged does nothing (without importing torch, so it takes well under 1 s).
Otherwise the models are built in a staging folder and renamed into place, under a lock, so a
concurrent or interrupted run never leaves a half-written model behind a valid stamp.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import argparse  # noqa: E402
import fcntl  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import zlib  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any, Dict  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURE_DIR = os.path.join(REPO, "test", "fixtures", "bert-base-uncased")
COPIED_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
# Everything the output bytes depend on (torch's RNG aside); their hash is the stamp.
INPUT_FILES = (
    os.path.join(HERE, "generate_models.py"),
    os.path.join(HERE, "bert_model.py"),
    os.path.join(HERE, "safetensors_io.py"),
    *(os.path.join(FIXTURE_DIR, name) for name in COPIED_TOKENIZER_FILES),
    *(os.path.join(HERE, "families", name) for name in (
        "__init__.py", "common.py", "roberta.py", "electra.py", "modernbert.py", "registry.py",
        "corpus.py", "sentencepiece_model.py", "tokenizer_files.py", "modular.py")),
    os.path.join(HERE, "make_tokenizers.mjs"),
    os.path.join(REPO, "test", "fixtures", "tiny-xlm-roberta", "sentencepiece.bpe.model"),
    os.path.join(REPO, "node_modules", "tokenizers", "package.json"),
)
SPM_FIXTURE = os.path.join(REPO, "test", "fixtures", "tiny-xlm-roberta", "sentencepiece.bpe.model")
STAMP_FILE = ".stamp.json"
REAL_SHAPES_STAMP_FILE = ".stamp-real-shapes.json"
LOCK_FILE = ".lock"
SEED = 20241127

TINY = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=512, type_vocab_size=2,
            hidden_act="gelu", num_labels=1)
MINILM_L6 = dict(TINY, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                 intermediate_size=1536,
                 sentence_transformers={"activation_fn": "torch.nn.modules.activation.Identity"})


@dataclass(frozen=True)
class ModelSpec:
    name: str
    config: Dict[str, Any]
    weights: str = "safetensors"  # or "bin"
    dtype: str = "float32"  # stored dtype of the safetensors weights
    overrides: Dict[str, Any] = field(default_factory=dict)

    def config_dict(self) -> Dict[str, Any]:
        return {**self.config, **self.overrides}


SPECS = (
    ModelSpec("tiny", TINY),
    ModelSpec("minilm-l6", MINILM_L6),
    ModelSpec("tiny-bin", TINY, weights="bin"),
    ModelSpec("tiny-f16", TINY, dtype="float16"),
    ModelSpec("tiny-3labels", TINY, overrides={
        "num_labels": 3, "id2label": {"0": "contradiction", "1": "entailment", "2": "neutral"}}),
    ModelSpec("tiny-gelu-new", TINY, overrides={"hidden_act": "gelu_new"}),
)


@dataclass(frozen=True)
class FamilySpec:
    """A model of families/*.py; `tokenizer` is its kind, `pad_vocab_to` the real vocab size."""
    name: str
    model_type: str
    config: Dict[str, Any]
    tokenizer: str
    pad_vocab_to: Any = None


TINY_ROBERTA = dict(vocab_size=2000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, max_position_embeddings=514, type_vocab_size=1,
                    layer_norm_eps=1e-5, hidden_act="gelu", pad_token_id=1, bos_token_id=0,
                    eos_token_id=2, num_labels=1)
TINY_ELECTRA = dict(vocab_size=30522, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                    type_vocab_size=2, layer_norm_eps=1e-12, hidden_act="gelu", pad_token_id=0,
                    num_labels=1)
# Specials of the ModernBERT-style tiny tokenizer: [UNK]=1995 [CLS]=1996 [SEP]=1997 [PAD]=1998.
TINY_MODERNBERT = dict(vocab_size=2000, hidden_size=32, intermediate_size=48, num_hidden_layers=4,
                       num_attention_heads=2, global_attn_every_n_layers=3, local_attention=8,
                       max_position_embeddings=8192, classifier_pooling="cls", pad_token_id=1998,
                       bos_token_id=1996, cls_token_id=1996, eos_token_id=1997,
                       sep_token_id=1997, num_labels=1)
XLMR_BASE = dict(vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                 layer_norm_eps=1e-5, hidden_act="gelu", pad_token_id=1, bos_token_id=0,
                 eos_token_id=2, num_labels=1)
MODERNBERT_BASE = dict(TINY_MODERNBERT, vocab_size=50368, hidden_size=768, intermediate_size=1152,
                       num_hidden_layers=22, num_attention_heads=12, local_attention=128,
                       global_rope_theta=160000.0, local_rope_theta=10000.0,
                       classifier_pooling="mean")

FAMILY_SPECS = (
    FamilySpec("tiny-roberta", "roberta", TINY_ROBERTA, "roberta"),
    FamilySpec("tiny-xlm-roberta", "xlm-roberta", dict(TINY_ROBERTA, vocab_size=3002), "xlm-roberta"),
    FamilySpec("tiny-electra", "electra", TINY_ELECTRA, "electra"),
    FamilySpec("tiny-modernbert", "modernbert", TINY_MODERNBERT, "modernbert"),
    FamilySpec("tiny-modernbert-mean", "modernbert", dict(TINY_MODERNBERT, classifier_pooling="mean"),
               "modernbert"),
)


@dataclass(frozen=True)
class ModularSpec:
    """A modular CrossEncoder over the base model of the family model `base` (a FAMILY_SPECS name)."""
    name: str
    base: str
    pooling_config: Dict[str, Any]
    keep_labels: bool = False  # config.json with HF's default id2label (else saved diff-style)


MODULAR_SPECS = (
    ModularSpec("tiny-ettin", "tiny-modernbert",
                {"embedding_dimension": 32, "pooling_mode": "cls", "include_prompt": True}),
    ModularSpec("tiny-ettin-mean", "tiny-modernbert",
                {"word_embedding_dimension": 32, "pooling_mode_cls_token": False,
                 "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                 "pooling_mode_mean_sqrt_len_tokens": False,
                 "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False,
                 "include_prompt": True}, keep_labels=True),
)
REAL_SHAPE_SPECS = (
    FamilySpec("bge-reranker-base", "xlm-roberta", XLMR_BASE, "xlm-roberta", 250002),
    FamilySpec("bge-reranker-large", "xlm-roberta",
               dict(XLMR_BASE, num_hidden_layers=24, hidden_size=1024, num_attention_heads=16,
                    intermediate_size=4096), "xlm-roberta", 250002),
    FamilySpec("distilroberta-base", "roberta", dict(XLMR_BASE, vocab_size=50265, num_hidden_layers=6),
               "roberta", 50265),
    FamilySpec("electra-base", "electra",
               dict(TINY_ELECTRA, embedding_size=768, hidden_size=768, num_hidden_layers=12,
                    num_attention_heads=12, intermediate_size=3072), "electra"),
    FamilySpec("gte-reranker-modernbert-base", "modernbert",
               dict(MODERNBERT_BASE, pad_token_id=1998, bos_token_id=1996, cls_token_id=1996,
                    eos_token_id=1997, sep_token_id=1997), "modernbert", 50368),
)


# ---------------------------------------------------------------------------------------------
# Stamp: skip the work when inputs and outputs are unchanged
# ---------------------------------------------------------------------------------------------
def inputs_hash() -> str:
    digest = hashlib.sha256()
    for path in INPUT_FILES:
        with open(path, "rb") as f:
            data = f.read()
        digest.update(f"{os.path.basename(path)}:{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


def output_sizes(out: str, names) -> Dict[str, int]:
    """The size of every file of the models, module sub-folders included."""
    sizes = {}
    for name_ in names:
        folder = os.path.join(out, name_)
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                rel = os.path.relpath(os.path.join(root, name), out).replace(os.sep, "/")
                sizes[rel] = os.path.getsize(os.path.join(root, name))
    return sizes


def is_up_to_date(out: str, digest: str, names, stamp_file: str = STAMP_FILE) -> bool:
    try:
        with open(os.path.join(out, stamp_file), encoding="utf-8") as f:
            stamp = json.load(f)
        return stamp.get("inputs") == digest and stamp.get("files") == output_sizes(out, names)
    except (OSError, ValueError):
        return False


def write_stamp(out: str, digest: str, names, stamp_file: str = STAMP_FILE) -> None:
    tmp = os.path.join(out, stamp_file + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"inputs": digest, "files": output_sizes(out, names)}, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(out, stamp_file))


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------
def init_weights(model, seed: int) -> None:
    """Seeded, non-trivial values for every parameter; each tensor has its own seed (derived from
    its name), so variants of one shape share every tensor they have in common.

    - embeddings: normal(0, 0.02), HF's initializer_range;
    - Linear weights: normal(0, 1/sqrt(fan_in)), so that activations stay O(1) through the
      layers: attention is far from uniform, GELU variants differ visibly, logits are O(1), and a
      wrong transpose, mask or activation changes the logits well beyond the 1e-5 tolerance
      (with HF's 0.02 in a 32-wide model, attention would be nearly uniform and logits ~1e-2);
    - Linear biases: normal(0, 0.1); LayerNorm weight 1 + normal(0, 0.1), bias normal(0, 0.1):
      never zero or one, so a bias or LayerNorm parameter that fails to load shows.
    """
    import torch

    generator = torch.Generator()
    with torch.no_grad():
        for name, param in model.named_parameters():
            generator.manual_seed(zlib.crc32(f"{seed}/{name}".encode()))
            noise = torch.randn(param.shape, generator=generator)
            if "LayerNorm" in name:
                param.copy_(1.0 + 0.1 * noise if name.endswith("weight") else 0.1 * noise)
            elif "embeddings" in name:
                param.copy_(0.02 * noise)
            elif name.endswith("weight"):
                param.copy_(noise / param.shape[1] ** 0.5)
            else:
                param.copy_(0.1 * noise)


def legacy_state_dict(model):
    """model.state_dict() with `bert.embeddings.position_ids` first among the embeddings, as HF
    checkpoints saved before transformers 4.31 have it (an int64 [1, max_positions] buffer)."""
    import collections

    state = model.state_dict()
    legacy = collections.OrderedDict()
    for key, value in state.items():
        if key == "bert.embeddings.word_embeddings.weight":
            legacy["bert.embeddings.position_ids"] = model.bert.embeddings.position_ids
        legacy[key] = value
    legacy._metadata = state._metadata  # torch.save pickles it, as with any real state dict
    return legacy


# ---------------------------------------------------------------------------------------------
# One model directory
# ---------------------------------------------------------------------------------------------
def write_model(spec: ModelSpec, folder: str) -> str:
    """Writes one model directory; returns its one-line description."""
    import torch
    from bert_model import (BIN_FILE, SAFETENSORS_FILE, BertConfig,
                            BertForSequenceClassification, save_model, write_config)

    config = BertConfig.from_dict(spec.config_dict(), source=spec.name)
    model = BertForSequenceClassification(config)
    init_weights(model, SEED)
    os.makedirs(folder)
    if spec.weights == "bin":
        write_config(config, folder)
        weights_file = BIN_FILE
        # torch.save names the zip's root folder after the file, so the bytes are reproducible
        # only because the file name is.
        torch.save(legacy_state_dict(model), os.path.join(folder, weights_file))
    else:
        weights_file = SAFETENSORS_FILE
        save_model(model, folder, getattr(torch, spec.dtype))
    write_tokenizer_files(folder)
    size = os.path.getsize(os.path.join(folder, weights_file)) / 1e6
    return (f"{spec.name}: hidden {config.hidden_size}, {config.num_hidden_layers} layers, "
            f"{config.num_attention_heads} heads, {config.num_labels} label(s), {config.hidden_act}, "
            f"{weights_file} {spec.dtype} ({size:.1f} MB)")


def write_tokenizer_files(folder: str) -> None:
    for name in COPIED_TOKENIZER_FILES:
        shutil.copyfile(os.path.join(FIXTURE_DIR, name), os.path.join(folder, name))
    vocab = read_vocab_ids(os.path.join(FIXTURE_DIR, "vocab.txt"))
    special = {"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]",
               "sep_token": "[SEP]", "unk_token": "[UNK]"}
    # As the MS MARCO cross-encoders' tokenizer_config.json, written by a recent transformers.
    tokenizer_config = {
        "added_tokens_decoder": {
            str(vocab[token]): {"content": token, "lstrip": False, "normalized": False,
                                "rstrip": False, "single_word": False, "special": True}
            for token in sorted(special.values(), key=vocab.get)
        },
        "clean_up_tokenization_spaces": True,
        "do_basic_tokenize": True,
        "do_lower_case": True,
        "model_max_length": 512,
        "never_split": None,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer",
        **special,
    }
    write_json(os.path.join(folder, "tokenizer_config.json"), tokenizer_config)
    write_json(os.path.join(folder, "special_tokens_map.json"), special)


def read_vocab_ids(path: str) -> Dict[str, int]:
    with open(path, encoding="utf-8", newline="") as f:
        return {token: i for i, token in enumerate(f.read().split("\n"))}


def write_json(path: str, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# The other families
# ---------------------------------------------------------------------------------------------
class TokenizerInputs:
    """What the family tokenizers are built from, made once per run: the corpus, its BPE merges."""

    def __init__(self, staging: str):
        from families.corpus import write_corpus
        from families.tokenizer_files import TokenizerWriter, train_bpe_merges

        self.corpus = os.path.join(staging, ".corpus.txt")
        write_corpus(self.corpus, SEED)
        self.merges = train_bpe_merges(self.corpus)
        self.writer = TokenizerWriter()


def write_family_model(spec: FamilySpec, folder: str, inputs: TokenizerInputs) -> str:
    """Writes one family model directory (its tokenizer.json only at inputs.writer.finish())."""
    import torch
    from families import tokenizer_files as tf
    from families.common import init_test_weights, save_model
    from families.registry import FAMILIES

    os.makedirs(folder)
    kind = spec.tokenizer
    if kind == "roberta":
        vocab_size = tf.write_roberta_tokenizer(folder, inputs.writer, inputs.merges, spec.pad_vocab_to)
    elif kind == "modernbert":
        vocab_size = tf.write_modernbert_tokenizer(folder, inputs.writer, inputs.merges, spec.pad_vocab_to)
    elif kind == "xlm-roberta":
        vocab_size = tf.write_xlmr_tokenizer(folder, inputs.writer, SPM_FIXTURE, spec.pad_vocab_to)
    else:
        vocab_size = tf.write_electra_tokenizer(folder, FIXTURE_DIR)
    if vocab_size != spec.config["vocab_size"]:
        raise ValueError(f"{spec.name}: the tokenizer has {vocab_size} tokens, the config "
                         f"{spec.config['vocab_size']}")
    family = FAMILIES[spec.model_type]
    raw = {k: v for k, v in spec.config.items() if k != "num_labels"}
    config = family.config_class.from_dict(
        {**raw, "model_type": spec.model_type, "num_labels": spec.config.get("num_labels", 2)},
        source=spec.name)
    model = family.model_class(config)
    init_test_weights(model, SEED)
    save_model(model, folder, torch.float32)
    size = os.path.getsize(os.path.join(folder, "model.safetensors")) / 1e6
    return (f"{spec.name}: {spec.model_type}, hidden {config.hidden_size}, "
            f"{config.num_hidden_layers} layers, vocab {config.vocab_size} ({kind} tokenizer), "
            f"model.safetensors ({size:.1f} MB)")


# ---------------------------------------------------------------------------------------------
# Sentence Transformers' modular CrossEncoder (ST >= 5.4)
# ---------------------------------------------------------------------------------------------
ST_VERSIONS = {"sentence_transformers": "5.4.0", "transformers": "4.48.0", "pytorch": "1.13.0"}
MODULAR_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def write_modular_model(spec: ModularSpec, folder: str, base_folder: str) -> str:
    """Writes one modular directory from the finished family model in `base_folder` (its
    tokenizer files are copied, so this runs after TokenizerInputs.writer.finish())."""
    import torch
    from families import modular
    from families.common import read_config_json
    from safetensors_io import read_safetensors, write_safetensors

    os.makedirs(folder)
    base_config = read_config_json(base_folder)
    hidden = base_config["hidden_size"]
    model_type = base_config["model_type"]
    config = dict(base_config, architectures=[modular.BASE_ARCHITECTURES[model_type]])
    if spec.keep_labels:
        config.update(id2label={"0": "LABEL_0", "1": "LABEL_1"}, label2id={"LABEL_0": 0, "LABEL_1": 1})
    else:
        config.pop("id2label", None)
        config.pop("label2id", None)
    write_json(os.path.join(folder, "config.json"), config)
    prefix = modular.BASE_PREFIXES[model_type]
    state = read_safetensors(os.path.join(base_folder, "model.safetensors"))
    base_state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    write_safetensors(os.path.join(folder, "model.safetensors"), base_state, {"format": "pt"})
    for name in MODULAR_TOKENIZER_FILES:
        shutil.copyfile(os.path.join(base_folder, name), os.path.join(folder, name))

    modules = [
        {"idx": 0, "name": "0", "path": "", "type": modular.TRANSFORMER_TYPE},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": modular.POOLING_TYPE},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": modular.DENSE_TYPE},
        {"idx": 3, "name": "3", "path": "3_LayerNorm", "type": modular.LAYER_NORM_TYPE},
        {"idx": 4, "name": "4", "path": "4_Dense", "type": modular.DENSE_TYPE},
    ]
    write_st_json(os.path.join(folder, "modules.json"), modules, 2)
    write_st_json(os.path.join(folder, "sentence_bert_config.json"), {
        "transformer_task": "feature-extraction",
        "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
        "module_output_name": "token_embeddings"}, 4)
    write_st_json(os.path.join(folder, "config_sentence_transformers.json"), {
        "model_type": "CrossEncoder", "__version__": ST_VERSIONS, "prompts": {},
        "default_prompt_name": None, "activation_fn": "torch.nn.modules.linear.Identity"}, 2)
    dense = {"module_input_name": "sentence_embedding", "use_residual": False}
    module_configs = {
        "1_Pooling": spec.pooling_config,
        "2_Dense": {"in_features": hidden, "out_features": hidden, "bias": False,
                    "activation_function": "torch.nn.modules.activation.GELU",
                    "module_output_name": "sentence_embedding", **dense},
        "3_LayerNorm": {"dimension": hidden},
        "4_Dense": {"in_features": hidden, "out_features": 1, "bias": True,
                    "activation_function": "torch.nn.modules.linear.Identity",
                    "module_output_name": "scores", **dense},
    }
    generator = torch.Generator()

    def seeded(name: str, shape, rule):
        generator.manual_seed(zlib.crc32(f"{SEED}/{name}".encode()))
        return rule(torch.randn(shape, generator=generator))

    module_weights = {
        "2_Dense": {"linear.weight": seeded("2.linear.weight", (hidden, hidden),
                                            lambda n: 0.2 * n / hidden ** 0.5)},
        "3_LayerNorm": {"norm.weight": seeded("3.norm.weight", (hidden,), lambda n: 1.0 + 0.1 * n),
                        "norm.bias": seeded("3.norm.bias", (hidden,), lambda n: 0.1 * n)},
        "4_Dense": {"linear.weight": seeded("4.linear.weight", (1, hidden), lambda n: n / hidden ** 0.5),
                    "linear.bias": seeded("4.linear.bias", (1,), lambda n: 0.1 * n)},
    }
    for path, module_config in module_configs.items():
        os.makedirs(os.path.join(folder, path))
        write_st_json(os.path.join(folder, path, "config.json"), module_config, 4)
        if path in module_weights:
            write_safetensors(os.path.join(folder, path, "model.safetensors"), module_weights[path],
                              {"format": "pt"})
    pooling = modular.pooling_mode_of(spec.pooling_config)
    return (f"{spec.name}: modular CrossEncoder over {spec.base}'s {model_type} base model, "
            f"pooling {pooling}, Dense(GELU) -> LayerNorm -> Dense(1)")


def write_st_json(path: str, value: Any, indent: int) -> None:
    """JSON as Sentence Transformers writes it (json.dump, insertion order, no trailing newline)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=indent)


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------
def generate(out: str, force: bool = False, real_shapes: bool = False) -> None:
    os.makedirs(out, exist_ok=True)
    digest = inputs_hash()
    if real_shapes:
        names, stamp_file = [s.name for s in REAL_SHAPE_SPECS], REAL_SHAPES_STAMP_FILE
    else:
        names, stamp_file = [s.name for s in (*SPECS, *FAMILY_SPECS, *MODULAR_SPECS)], STAMP_FILE
    if not force and is_up_to_date(out, digest, names, stamp_file):
        print(f"models up to date in {out}: {', '.join(names)}")
        return
    with open(os.path.join(out, LOCK_FILE), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Another run may have finished while we waited for the lock.
        if not force and is_up_to_date(out, digest, names, stamp_file):
            print(f"models up to date in {out}: {', '.join(names)}")
            return
        regenerate(out, digest, real_shapes)


def regenerate(out: str, digest: str, real_shapes: bool = False) -> None:
    sys.path.insert(0, HERE)
    remove_leftovers(out)
    bert_specs = () if real_shapes else SPECS
    family_specs = REAL_SHAPE_SPECS if real_shapes else FAMILY_SPECS
    modular_specs = () if real_shapes else MODULAR_SPECS
    names = [s.name for s in (*bert_specs, *family_specs, *modular_specs)]
    stamp_file = REAL_SHAPES_STAMP_FILE if real_shapes else STAMP_FILE
    stamp = os.path.join(out, stamp_file)
    if os.path.exists(stamp):
        os.unlink(stamp)  # until the stamp is rewritten, the output counts as incomplete
    staging = os.path.join(out, f".staging-{os.getpid()}")
    os.makedirs(staging)
    try:
        lines = [write_model(spec, os.path.join(staging, spec.name)) for spec in bert_specs]
        inputs = TokenizerInputs(staging)
        lines += [write_family_model(spec, os.path.join(staging, spec.name), inputs)
                  for spec in family_specs]
        inputs.writer.finish()
        lines += [write_modular_model(spec, os.path.join(staging, spec.name),
                                      os.path.join(staging, spec.base)) for spec in modular_specs]
        for name in names:
            replace_dir(os.path.join(staging, name), os.path.join(out, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_stamp(out, digest, names, stamp_file)
    print("\n".join(lines))  # last: a closed stdout must not interrupt the swap


def replace_dir(new: str, target: str) -> None:
    """Moves `new` to `target`; an existing `target` is renamed aside first, then deleted."""
    if os.path.exists(target):
        aside = os.path.join(os.path.dirname(target),
                             f".old-{os.getpid()}-{os.path.basename(target)}")
        os.rename(target, aside)
        os.rename(new, target)
        shutil.rmtree(aside)
    else:
        os.rename(new, target)


def remove_leftovers(out: str) -> None:
    """Staging and set-aside folders of runs that were killed (we hold the lock: none is live)."""
    for name in os.listdir(out):
        if name.startswith((".staging-", ".old-")):
            shutil.rmtree(os.path.join(out, name), ignore_errors=True)


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "test", ".models"),
                        help="output folder (default: test/.models)")
    parser.add_argument("--force", action="store_true", help="regenerate even if up to date")
    parser.add_argument("--real-shapes", action="store_true",
                        help="write the real-shaped family models instead (big; not for npm test)")
    args = parser.parse_args(argv)
    generate(os.path.abspath(args.out), args.force, args.real_shapes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
