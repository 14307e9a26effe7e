"""The tokenizer files of the family test models, as transformers' save_pretrained writes them:
tokenizer.json (composed here, then loaded and re-saved by the official `tokenizers` library
through make_tokenizers.mjs, so it is valid and in the library's own serialization),
tokenizer_config.json, special_tokens_map.json, and the slow tokenizer's files where we have them
(vocab.json + merges.txt for RoBERTa, sentencepiece.bpe.model for XLM-R, vocab.txt for ELECTRA).

Vocabularies (ids):
    roberta     byte-level BPE: <s>=0 <pad>=1 </s>=2 <unk>=3, the 256 byte symbols (GPT-2's
                bytes_to_unicode order), the merge results in merge order, <mask> last
    modernbert  byte-level BPE: <|endoftext|>=0 <|padding|>=1 (as OLMo's / ModernBERT's vocab
                starts), the 256 byte symbols, the merge results, then [UNK] [CLS] [SEP] [PAD]
                [MASK] (ModernBERT's order: [UNK]=50280 ... [MASK]=50284 in the real one)
    xlm-roberta Unigram from the sentencepiece fixture, as XLMRobertaConverter maps it: <s>=0
                <pad>=1 </s>=2 <unk>=3, the spm pieces from index 3 on (so spm id i -> i + 1),
                <mask> last
    electra     bert-base-uncased's WordPiece (what google/electra-base-discriminator uses)
`pad_to` pads a vocabulary with unused entries ("<unused_N>" / "[unused_N]") before its last
special token(s), for the real-shaped models.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from families.sentencepiece_model import read_sentencepiece_model

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # test/reference
MAKE_TOKENIZERS = os.path.join(HERE, "make_tokenizers.mjs")

ROBERTA_VOCAB_SIZE = 2000
MODERNBERT_VOCAB_SIZE = 2000


def bytes_to_unicode() -> List[str]:
    """GPT-2's byte -> printable character table, in its order (printable bytes first)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def node(*args: str, stdin: Optional[str] = None) -> str:
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}
    result = subprocess.run(["node", MAKE_TOKENIZERS, *args], input=stdin, capture_output=True,
                            text=True, env=env, cwd=os.path.dirname(HERE))
    if result.returncode != 0:
        raise RuntimeError(f"node make_tokenizers.mjs {args[0]} failed:\n{result.stderr}")
    return result.stdout


def train_bpe_merges(corpus: str) -> List[Tuple[str, str]]:
    """Every merge of a byte-level BPE trained on `corpus`, in priority order."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bpe.json")
        node("train-bpe", corpus, out)
        with open(out, encoding="utf-8") as f:
            merges = json.load(f)["model"]["merges"]
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in merges]


def added_token(id_: int, content: str, lstrip: bool = False, special: bool = True,
                normalized: bool = False) -> Dict[str, Any]:
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip,
            "rstrip": False, "normalized": normalized, "special": special}


def added_tokens_decoder(tokens: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    return {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                             "single_word", "special")} for t in tokens}


def token_dict(t: Dict[str, Any]) -> Dict[str, Any]:
    return {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word")}


def write_json(path: str, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def byte_level(add_prefix_space: bool = False) -> Dict[str, Any]:
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": True,
            "use_regex": True}


def bpe_model(vocab: Dict[str, int], merges: Sequence[Tuple[str, str]]) -> Dict[str, Any]:
    return {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
            "ignore_merges": False, "vocab": vocab, "merges": [list(m) for m in merges]}


def template(single: List[Tuple[str, int]], pair: List[Tuple[str, int]],
             specials: Dict[str, int]) -> Dict[str, Any]:
    def piece(name: str, type_id: int) -> Dict[str, Any]:
        if name in ("$A", "$B"):
            return {"Sequence": {"id": name[1], "type_id": type_id}}
        return {"SpecialToken": {"id": name, "type_id": type_id}}

    return {"type": "TemplateProcessing", "single": [piece(*p) for p in single],
            "pair": [piece(*p) for p in pair],
            "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in specials.items()}}


def tokenizer_json(model, added, normalizer, pre_tokenizer, post_processor, decoder) -> Dict[str, Any]:
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": normalizer, "pre_tokenizer": pre_tokenizer,
            "post_processor": post_processor, "decoder": decoder, "model": model}


class TokenizerWriter:
    """Collects tokenizer.json files and canonicalizes them all in one node run at the end."""

    def __init__(self):
        self._pending: List[Tuple[str, str]] = []
        self._tmp = tempfile.mkdtemp(prefix="tokenizers-")

    def add(self, folder: str, value: Dict[str, Any]) -> None:
        raw = os.path.join(self._tmp, f"{len(self._pending)}.json")
        with open(raw, "w", encoding="utf-8") as f:
            json.dump(value, f, ensure_ascii=False)
        self._pending.append((raw, os.path.join(folder, "tokenizer.json")))

    def finish(self) -> None:
        try:
            if self._pending:
                node("canonicalize", *[p for pair in self._pending for p in pair])
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._pending = []


def _unused(prefix: str, suffix: str, count: int, start: int = 0) -> List[str]:
    return [f"{prefix}unused_{i}{suffix}" for i in range(start, start + count)]


# ---------------------------------------------------------------------------------------------
# RoBERTa: byte-level BPE, RobertaProcessing
# ---------------------------------------------------------------------------------------------
def roberta_vocab(merges: Sequence[Tuple[str, str]], size: int, pad_to: Optional[int] = None):
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    alphabet = bytes_to_unicode()
    n_merges = size - len(specials) - len(alphabet) - 1
    if n_merges > len(merges):
        raise ValueError(f"the corpus has {len(merges)} merges, {n_merges} needed")
    kept = list(merges[:n_merges])
    tokens = specials + alphabet + [a + b for a, b in kept]
    if pad_to is not None:
        tokens += _unused("<", ">", pad_to - len(tokens) - 1)
    tokens.append("<mask>")
    vocab = {t: i for i, t in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise ValueError("duplicate BPE tokens")
    return vocab, kept


def write_roberta_tokenizer(folder: str, writer: TokenizerWriter, merges, pad_to=None,
                            model_max_length: int = 512) -> int:
    vocab, kept = roberta_vocab(merges, ROBERTA_VOCAB_SIZE, pad_to)
    mask_id = len(vocab) - 1
    added = [added_token(0, "<s>"), added_token(1, "<pad>"), added_token(2, "</s>"),
             added_token(3, "<unk>"), added_token(mask_id, "<mask>", lstrip=True)]
    writer.add(folder, tokenizer_json(
        bpe_model(vocab, kept), added, None, byte_level(False),
        {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True,
         "add_prefix_space": False},
        byte_level(True)))
    # RobertaTokenizer.save_vocabulary's files.
    write_json(os.path.join(folder, "vocab.json"), vocab)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in kept))
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "add_prefix_space": False, "added_tokens_decoder": added_tokens_decoder(added),
        "bos_token": "<s>", "clean_up_tokenization_spaces": False, "cls_token": "<s>",
        "eos_token": "</s>", "errors": "replace", "mask_token": "<mask>",
        "model_max_length": model_max_length, "pad_token": "<pad>", "sep_token": "</s>",
        "tokenizer_class": "RobertaTokenizer", "trim_offsets": True, "unk_token": "<unk>"})
    write_json(os.path.join(folder, "special_tokens_map.json"), {
        "bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>",
        "mask_token": token_dict(added[-1]), "pad_token": "<pad>", "sep_token": "</s>",
        "unk_token": "<unk>"})
    return len(vocab)


# ---------------------------------------------------------------------------------------------
# ModernBERT: byte-level BPE, [CLS] A [SEP] B [SEP]
# ---------------------------------------------------------------------------------------------
MODERNBERT_SPECIALS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]")


def modernbert_ids(vocab_size: int = MODERNBERT_VOCAB_SIZE, pad_to: Optional[int] = None) -> Dict[str, int]:
    """The special token ids of the ModernBERT-style tokenizer (they precede the unused padding)."""
    first = vocab_size - len(MODERNBERT_SPECIALS)
    return {t: first + i for i, t in enumerate(MODERNBERT_SPECIALS)}


def write_modernbert_tokenizer(folder: str, writer: TokenizerWriter, merges, pad_to=None,
                               model_max_length: int = 8192) -> int:
    head = ["<|endoftext|>", "<|padding|>"]
    alphabet = bytes_to_unicode()
    n_merges = MODERNBERT_VOCAB_SIZE - len(head) - len(alphabet) - len(MODERNBERT_SPECIALS)
    kept = list(merges[:n_merges])
    tokens = head + alphabet + [a + b for a, b in kept]
    vocab = {t: i for i, t in enumerate(tokens)}
    ids = modernbert_ids()
    added = [added_token(0, "<|endoftext|>"), added_token(1, "<|padding|>")]
    added += [added_token(i, t, lstrip=t == "[MASK]") for t, i in ids.items()]
    for t, i in ids.items():
        vocab[t] = i
    if pad_to is not None:  # as ModernBERT's [unused0] ... [unused82]: added, not special
        start = len(vocab)
        for k, t in enumerate(_unused("[", "]", pad_to - start)):
            vocab[t] = start + k
            added.append(added_token(start + k, t, special=False, normalized=True))
    writer.add(folder, tokenizer_json(
        bpe_model(vocab, kept), added, {"type": "NFC"}, byte_level(False),
        template([("[CLS]", 0), ("$A", 0), ("[SEP]", 0)],
                 [("[CLS]", 0), ("$A", 0), ("[SEP]", 0), ("$B", 1), ("[SEP]", 1)],
                 {"[CLS]": ids["[CLS]"], "[SEP]": ids["[SEP]"]}),
        byte_level(True)))
    specials = [t for t in added if t["content"] in MODERNBERT_SPECIALS]
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "added_tokens_decoder": added_tokens_decoder(added), "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]", "mask_token": "[MASK]",
        "model_input_names": ["input_ids", "attention_mask"], "model_max_length": model_max_length,
        "pad_token": "[PAD]", "sep_token": "[SEP]", "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": "[UNK]"})
    write_json(os.path.join(folder, "special_tokens_map.json"), {
        name: token_dict(t) for t in specials
        for name in [{"[UNK]": "unk_token", "[CLS]": "cls_token", "[SEP]": "sep_token",
                      "[PAD]": "pad_token", "[MASK]": "mask_token"}[t["content"]]]})
    return len(vocab)


# ---------------------------------------------------------------------------------------------
# XLM-RoBERTa: sentencepiece Unigram -> tokenizer.json as XLMRobertaConverter
# ---------------------------------------------------------------------------------------------
def write_xlmr_tokenizer(folder: str, writer: TokenizerWriter, spm_path: str, pad_to=None,
                         model_max_length: int = 512) -> int:
    spm = read_sentencepiece_model(spm_path)
    if [p.piece for p in spm.pieces[:3]] != ["<unk>", "<s>", "</s>"]:
        raise ValueError(f"{spm_path}: expected <unk> <s> </s> as pieces 0-2")
    # XLMRobertaConverter.vocab / unk_id
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]]
    vocab += [[p.piece, p.score] for p in spm.pieces[3:]]
    if pad_to is not None:
        vocab += [[t, -100.0] for t in _unused("<", ">", pad_to - len(vocab) - 1)]
    vocab.append(["<mask>", 0.0])
    mask_id = len(vocab) - 1
    added = [added_token(0, "<s>"), added_token(1, "<pad>"), added_token(2, "</s>"),
             added_token(3, "<unk>"), added_token(mask_id, "<mask>", lstrip=True)]
    # SpmConverter.normalizer (transformers 4.4x): Precompiled(charsmap), Strip(right),
    # Replace(Regex(" {2,}"), "▁"); pre_tokenizer / decoder Metaspace(▁, prepend_scheme "always").
    normalizer = {"type": "Sequence", "normalizers": [
        {"type": "Precompiled",
         "precompiled_charsmap": base64.b64encode(spm.precompiled_charsmap).decode("ascii")},
        {"type": "Strip", "strip_left": False, "strip_right": True},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"},
    ]}
    metaspace = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    writer.add(folder, tokenizer_json(
        {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False}, added,
        normalizer, metaspace,
        template([("<s>", 0), ("$A", 0), ("</s>", 0)],
                 [("<s>", 0), ("$A", 0), ("</s>", 0), ("</s>", 0), ("$B", 0), ("</s>", 0)],
                 {"<s>": 0, "</s>": 2}),
        metaspace))
    shutil.copyfile(spm_path, os.path.join(folder, "sentencepiece.bpe.model"))
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "added_tokens_decoder": added_tokens_decoder(added), "bos_token": "<s>",
        "clean_up_tokenization_spaces": True, "cls_token": "<s>", "eos_token": "</s>",
        "mask_token": "<mask>", "model_max_length": model_max_length, "pad_token": "<pad>",
        "sep_token": "</s>", "sp_model_kwargs": {}, "tokenizer_class": "XLMRobertaTokenizer",
        "unk_token": "<unk>"})
    names = {"<s>": ["bos_token", "cls_token"], "</s>": ["eos_token", "sep_token"],
             "<pad>": ["pad_token"], "<unk>": ["unk_token"], "<mask>": ["mask_token"]}
    write_json(os.path.join(folder, "special_tokens_map.json"), {
        name: token_dict(t) for t in added for name in names[t["content"]]})
    return len(vocab)


# ---------------------------------------------------------------------------------------------
# ELECTRA: bert-base-uncased's WordPiece
# ---------------------------------------------------------------------------------------------
def write_electra_tokenizer(folder: str, fixture_dir: str, model_max_length: int = 512) -> int:
    for name in ("tokenizer.json", "vocab.txt"):
        shutil.copyfile(os.path.join(fixture_dir, name), os.path.join(folder, name))
    with open(os.path.join(fixture_dir, "vocab.txt"), encoding="utf-8", newline="") as f:
        vocab = {t: i for i, t in enumerate(f.read().split("\n")) if t}
    special = {"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]",
               "sep_token": "[SEP]", "unk_token": "[UNK]"}
    added = [added_token(vocab[t], t) for t in sorted(special.values(), key=vocab.get)]
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "added_tokens_decoder": added_tokens_decoder(added), "clean_up_tokenization_spaces": True,
        "do_basic_tokenize": True, "do_lower_case": True, "model_max_length": model_max_length,
        "never_split": None, "strip_accents": None, "tokenize_chinese_chars": True,
        "tokenizer_class": "ElectraTokenizer", **special})
    write_json(os.path.join(folder, "special_tokens_map.json"), special)
    return len(vocab)
