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

The bytes are a function of the inputs (this script, the reference modules it imports, the
tokenizer fixture): a stamp file records a hash of them and the size of every file written, and a
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
)
STAMP_FILE = ".stamp.json"
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


def output_sizes(out: str) -> Dict[str, int]:
    sizes = {}
    for spec in SPECS:
        folder = os.path.join(out, spec.name)
        for name in sorted(os.listdir(folder)):
            sizes[f"{spec.name}/{name}"] = os.path.getsize(os.path.join(folder, name))
    return sizes


def is_up_to_date(out: str, digest: str) -> bool:
    try:
        with open(os.path.join(out, STAMP_FILE), encoding="utf-8") as f:
            stamp = json.load(f)
        return stamp.get("inputs") == digest and stamp.get("files") == output_sizes(out)
    except (OSError, ValueError):
        return False


def write_stamp(out: str, digest: str) -> None:
    tmp = os.path.join(out, STAMP_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"inputs": digest, "files": output_sizes(out)}, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(out, STAMP_FILE))


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
# Driver
# ---------------------------------------------------------------------------------------------
def generate(out: str, force: bool = False) -> None:
    os.makedirs(out, exist_ok=True)
    digest = inputs_hash()
    if not force and is_up_to_date(out, digest):
        print(f"models up to date in {out}: {', '.join(s.name for s in SPECS)}")
        return
    with open(os.path.join(out, LOCK_FILE), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Another run may have finished while we waited for the lock.
        if not force and is_up_to_date(out, digest):
            print(f"models up to date in {out}: {', '.join(s.name for s in SPECS)}")
            return
        regenerate(out, digest)


def regenerate(out: str, digest: str) -> None:
    sys.path.insert(0, HERE)
    remove_leftovers(out)
    stamp = os.path.join(out, STAMP_FILE)
    if os.path.exists(stamp):
        os.unlink(stamp)  # until the stamp is rewritten, the output counts as incomplete
    staging = os.path.join(out, f".staging-{os.getpid()}")
    os.makedirs(staging)
    try:
        lines = [write_model(spec, os.path.join(staging, spec.name)) for spec in SPECS]
        for spec in SPECS:
            replace_dir(os.path.join(staging, spec.name), os.path.join(out, spec.name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_stamp(out, digest)
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
    args = parser.parse_args(argv)
    generate(os.path.abspath(args.out), args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
