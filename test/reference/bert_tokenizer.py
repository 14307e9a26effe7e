"""BERT WordPiece tokenization as Hugging Face's `BertTokenizerFast` does it, by hand.

BertTokenizerFast runs the Rust `tokenizers` pipeline, not the Python `BertTokenizer`, so this
module follows the Rust code (normalizers/bert.rs, pre_tokenizers/bert.rs,
models/wordpiece/mod.rs, utils/truncation.rs, tokenizer/mod.rs, added_vocabulary.rs):

1. Special tokens ([CLS], [SEP], [PAD], [UNK], [MASK]; `normalized: false`) are cut out of the
   raw text first, longest match first, and map straight to their ids: "a [SEP] b" contains a real
   [SEP]. Only the text between them goes through steps 2-4.
2. BertNormalizer: clean text (drop U+0000, U+FFFD and "control" chars, map whitespace to ' '),
   put spaces around CJK ideographs, strip accents (NFD, drop Mn), lowercase char by char.
3. BertPreTokenizer: split on whitespace (dropped), then isolate every punctuation char.
4. WordPiece: greedy longest-match-first with the '##' prefix; a word longer than 100 chars, or
   with any piece not in the vocabulary, becomes a single [UNK].

Where the Rust code differs from the slow Python `BertTokenizer` (tokenization_bert.py), we follow
the Rust code:
- control = Unicode category Cc, Cf or Co (the `unicode_categories` crate's `is_other`); Python
  uses every C* category, so unassigned (Cn) code points are dropped by the slow tokenizer but
  kept by the fast one (they then become [UNK]).
- whitespace = Rust's `char::is_whitespace` (the Unicode White_Space property: adds U+2028 and
  U+2029 to Python's Zs + \\t\\n\\r; VT, FF and U+0085 are Cc and are dropped first by both).
- accents are stripped before lowercasing (Python lowercases first), and lowercasing is per
  character (`char::to_lowercase`), so a word-final capital sigma becomes 'σ', never 'ς'.
- the CJK Extension E/F range starts at U+2B920 (Python: U+2B820).
- pair truncation `longest_first` is not one-token-at-a-time (see `truncate_pair_lengths`), and
  since tokenizers 0.23 it compares the lengths of each text encoded only up to the end of the
  first word reaching `max_length` (see `encode_limited`).
Category lookups use Python's `unicodedata` (Unicode 14.0 under Python 3.11); a Rust build with
older tables can differ only on characters assigned since.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

# Rust `char::is_whitespace`: the Unicode White_Space property.
_WHITESPACE = frozenset(
    [chr(c) for c in range(0x09, 0x0E)]
    + ["\u0020", "\u0085", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
)

# Rust `char::is_ascii_punctuation`: !"#$%&'()*+,-./ :;<=>?@ [\]^_` {|}~ (includes S* symbols).
_ASCII_PUNCTUATION = frozenset(chr(c) for c in [*range(33, 48), *range(58, 65), *range(91, 97),
                                                *range(123, 127)])

# BertNormalizer's is_chinese_char: the CJK Unified Ideographs blocks.
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def is_whitespace(ch: str) -> bool:
    return ch in _WHITESPACE


def is_control(ch: str) -> bool:
    # \t \n \r are Cc but count as whitespace.
    return ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf", "Co")


def is_punctuation(ch: str) -> bool:
    return ch in _ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def is_chinese_char(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


@dataclass(frozen=True)
class BertNormalizer:
    clean_text: bool = True
    handle_chinese_chars: bool = True
    strip_accents: Optional[bool] = None  # None: follow `lowercase`, as the Rust normalizer does
    lowercase: bool = True

    def normalize(self, text: str) -> str:
        if self.clean_text:
            text = "".join(" " if is_whitespace(ch) else ch for ch in text
                           if not (ch in "\0\ufffd" or is_control(ch)))
        if self.handle_chinese_chars:
            text = "".join(f" {ch} " if is_chinese_char(ch) else ch for ch in text)
        if self.strip_accents if self.strip_accents is not None else self.lowercase:
            text = "".join(ch for ch in unicodedata.normalize("NFD", text)
                           if unicodedata.category(ch) != "Mn")
        if self.lowercase:
            text = "".join(ch.lower() for ch in text)
        return text


def pre_tokenize(text: str) -> List[str]:
    """BertPreTokenizer: whitespace-separated words, each punctuation char its own word."""
    words: List[str] = []
    for chunk in "".join(" " if is_whitespace(ch) else ch for ch in text).split(" "):
        current = ""
        for ch in chunk:
            if is_punctuation(ch):
                if current:
                    words.append(current)
                words.append(ch)
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


@dataclass(frozen=True)
class WordPiece:
    vocab: Dict[str, int]
    unk_token: str = "[UNK]"
    continuing_subword_prefix: str = "##"
    max_input_chars_per_word: int = 100

    def tokenize(self, word: str) -> List[str]:
        """Greedy longest-match-first; the whole word is [UNK] if any piece is missing."""
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else self.continuing_subword_prefix + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces


def truncate_pair_lengths(n1: int, n2: int, max_length: int) -> Tuple[int, int]:
    """Lengths kept by the Rust `tokenizers` LongestFirst strategy for a pair (truncation.rs).

    `max_length` is the budget for the two sequences alone (the caller subtracts the 3 special
    tokens, as `TokenizerImpl::post_process` does). With `short`/`long` the shorter/longer input:
    - if n1 + n2 <= max_length: nothing is cut;
    - else if short <= max_length - short: the short one is kept whole and the long one is cut
      to max_length - short;
    - else both are cut: the input that was longer (the second one on a tie) keeps
      ceil(max_length / 2), the other floor(max_length / 2).
    The slow Python tokenizer instead removes one token at a time from the longer side (the
    second on ties), which can give the opposite split: lengths (10, 10) with budget 7 give
    (3, 4) here and (4, 3) there.
    """
    if n1 + n2 <= max_length:
        return n1, n2
    swap = n1 > n2
    short, long_ = (n2, n1) if swap else (n1, n2)
    if short > max_length:
        long_ = short
    else:
        long_ = max(short, max_length - short)
    if short + long_ > max_length:
        short = max_length // 2
        long_ = short + max_length % 2
    keep1, keep2 = (long_, short) if swap else (short, long_)
    # Encoding::truncate never lengthens.
    return min(n1, keep1), min(n2, keep2)


class TokenizerError(ValueError):
    """A tokenizer directory or an input this reference cannot handle."""


SPECIAL_TOKEN_KEYS = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
SPECIAL_TOKEN_DEFAULTS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                          "cls_token": "[CLS]", "mask_token": "[MASK]"}


@dataclass
class PairBatch:
    """Padded model inputs for a batch of (query, document) pairs."""

    input_ids: List[List[int]]
    token_type_ids: List[List[int]]
    attention_mask: List[List[int]]


class BertTokenizer:
    """vocab.txt + tokenizer_config.json -> ids, as BertTokenizerFast."""

    def __init__(self, vocab: Dict[str, int], do_lower_case: bool = True,
                 strip_accents: Optional[bool] = None, tokenize_chinese_chars: bool = True,
                 special_tokens: Optional[Dict[str, str]] = None,
                 model_max_length: Optional[int] = None):
        self.vocab = vocab
        self.special = dict(SPECIAL_TOKEN_DEFAULTS, **(special_tokens or {}))
        for key, token in self.special.items():
            if token not in vocab:
                raise TokenizerError(f"{key} {token!r} is not in the vocabulary")
        self.normalizer = BertNormalizer(True, tokenize_chinese_chars, strip_accents, do_lower_case)
        self.wordpiece = WordPiece(vocab, self.special["unk_token"])
        self.model_max_length = model_max_length
        # Longest first, so that of two special tokens starting at one place the longer wins.
        tokens = sorted(set(self.special.values()), key=lambda t: (-len(t), t))
        self._special_split = re.compile("(" + "|".join(map(re.escape, tokens)) + ")")

    @classmethod
    def from_dir(cls, directory: str) -> "BertTokenizer":
        """Reads vocab.txt and, when present, tokenizer_config.json (HF defaults otherwise)."""
        vocab = load_vocab(os.path.join(directory, "vocab.txt"))
        config_path = os.path.join(directory, "tokenizer_config.json")
        config = {}
        if os.path.exists(config_path):
            with open(config_path, encoding="utf-8") as f:
                config = json.load(f)
        special = {k: _token_content(config[k]) for k in SPECIAL_TOKEN_KEYS if config.get(k)}
        max_length = config.get("model_max_length")
        return cls(vocab,
                   do_lower_case=config.get("do_lower_case", True),
                   strip_accents=config.get("strip_accents"),
                   tokenize_chinese_chars=config.get("tokenize_chinese_chars", True),
                   special_tokens=special,
                   model_max_length=max_length if isinstance(max_length, int) else None)

    def token_id(self, key: str) -> int:
        return self.vocab[self.special[key]]

    def splits(self, text: str) -> List[Tuple[List[str], bool]]:
        """The splits of `text` as the Rust pipeline sees them: (tokens, is_word) for each special
        token (not a word) and each word between them."""
        splits: List[Tuple[List[str], bool]] = []
        # re.split with one capturing group alternates: text, special, text, special, ...
        for i, segment in enumerate(self._special_split.split(text)):
            if i % 2:
                splits.append(([segment], False))
            else:
                for word in pre_tokenize(self.normalizer.normalize(segment)):
                    splits.append((self.wordpiece.tokenize(word), True))
        return splits

    def tokenize(self, text: str) -> List[str]:
        return [token for tokens, _ in self.splits(text) for token in tokens]

    def encode(self, text: str) -> List[int]:
        """Token ids of `text`, without special tokens."""
        return [self.vocab[t] for t in self.tokenize(text)]

    def encode_limited(self, text: str, limit: int) -> List[int]:
        """Token ids of `text` up to the end of the first word at which they reach `limit`
        (`PreTokenizedString::tokenize_with_limit`, tokenizers >= 0.23: a special token does not
        stop the encoding, the next word does), else all of them."""
        ids: List[int] = []
        for tokens, is_word in self.splits(text):
            ids.extend(self.vocab[t] for t in tokens)
            if is_word and len(ids) >= limit:
                break
        return ids

    def encode_pair(self, query: str, document: str,
                    max_length: Optional[int] = None) -> Tuple[List[int], List[int]]:
        """([CLS] q [SEP] d [SEP] ids, token_type_ids), truncated longest_first to max_length."""
        if max_length is None:
            q, d = self.encode(query), self.encode(document)
        else:
            if max_length < 3:
                raise TokenizerError(f"max_length {max_length} leaves no room for [CLS] and 2 [SEP]")
            # The limit is the whole max_length; the budget of truncation is what the special tokens leave.
            q, d = self.encode_limited(query, max_length), self.encode_limited(document, max_length)
            n1, n2 = truncate_pair_lengths(len(q), len(d), max_length - 3)
            q, d = q[:n1], d[:n2]
        cls_id, sep_id = self.token_id("cls_token"), self.token_id("sep_token")
        ids = [cls_id, *q, sep_id, *d, sep_id]
        type_ids = [0] * (len(q) + 2) + [1] * (len(d) + 1)
        return ids, type_ids

    def encode_pairs(self, pairs: Sequence[Tuple[str, str]],
                     max_length: Optional[int] = None) -> PairBatch:
        """Encodes every pair, right-padded with [PAD] (type 0, mask 0) to the longest one."""
        encoded = [self.encode_pair(q, d, max_length) for q, d in pairs]
        width = max((len(ids) for ids, _ in encoded), default=0)
        pad_id = self.token_id("pad_token")
        batch = PairBatch([], [], [])
        for ids, type_ids in encoded:
            padding = width - len(ids)
            batch.input_ids.append(ids + [pad_id] * padding)
            batch.token_type_ids.append(type_ids + [0] * padding)
            batch.attention_mask.append([1] * len(ids) + [0] * padding)
        return batch


def load_vocab(path: str) -> Dict[str, int]:
    """One token per line, id = line number; a repeated token keeps its last id (as HF)."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the trailing newline ends the last line, it does not add a token
    return {line.rstrip("\r"): i for i, line in enumerate(lines)}


def _token_content(value) -> str:
    # tokenizer_config.json stores a special token as a string or as a serialized AddedToken.
    return value["content"] if isinstance(value, dict) else str(value)
