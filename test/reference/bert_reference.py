"""Python reference for torch-crossencoder: plain PyTorch, no `transformers`.

Importable (the public names below) and a CLI:

    /usr/bin/python3 test/reference/bert_reference.py predict --model DIR < request.json

The request is one JSON object, either
    {"pairs": [[query, document], ...], "max_length": N}
        tokenized here with DIR's vocab.txt and tokenizer_config.json; "max_length" is optional
        and defaults to the tokenizer's model_max_length (no truncation if that is absent too);
or  {"input_ids": [[...]], "token_type_ids": [[...]], "attention_mask": [[...]]}
        already tokenized; token_type_ids default to 0 and attention_mask to 1.
The answer is one JSON object on stdout:
    {"input_ids": [[...]], "token_type_ids": [[...]], "attention_mask": [[...]],
     "logits": [[...] per pair]}
with logits computed in float32, in eval mode, under torch.no_grad(). A bad request or model
prints `error: ...` on stderr and exits with status 2.

Threads: not set. Thread count does not matter for determinism here: MiniLM-L6 logits for a
batch of 8 x 512 tokens were bit-identical across runs and between 1 and 2 threads (Debian torch
1.13.1 + OpenBLAS; and any thread-split rounding would be ~1e-7, far inside the tests' 1e-5).
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import argparse  # noqa: E402
import json  # noqa: E402
from typing import Any, Dict, List, Mapping  # noqa: E402

import torch  # noqa: E402

from bert_model import (  # noqa: E402,F401  (re-exported)
    ACT2FN,
    BertAttention,
    BertConfig,
    BertEmbeddings,
    BertEncoder,
    BertForSequenceClassification,
    BertIntermediate,
    BertLayer,
    BertModel,
    BertOutput,
    BertPooler,
    BertSelfAttention,
    BertSelfOutput,
    CheckpointError,
    ConfigError,
    extended_attention_mask,
    load_config,
    load_model,
    load_weights,
    read_checkpoint,
    save_model,
    write_config,
)
from bert_tokenizer import (  # noqa: E402,F401  (re-exported)
    BertNormalizer,
    BertTokenizer,
    PairBatch,
    TokenizerError,
    WordPiece,
    pre_tokenize,
    truncate_pair_lengths,
)
from safetensors_io import (  # noqa: E402,F401  (re-exported)
    SafetensorsError,
    read_safetensors,
    read_safetensors_metadata,
    write_safetensors,
)


class RequestError(ValueError):
    """A predict request that does not have the documented shape."""


def predict_logits(model: BertForSequenceClassification, batch: PairBatch) -> List[List[float]]:
    """Logits [batch][num_labels] for already padded inputs (float32 values as Python floats)."""
    if not batch.input_ids:
        return []
    with torch.no_grad():
        logits = model(
            torch.tensor(batch.input_ids, dtype=torch.long),
            torch.tensor(batch.attention_mask, dtype=torch.long),
            torch.tensor(batch.token_type_ids, dtype=torch.long),
        )
    return logits.tolist()


def batch_from_request(request: Mapping[str, Any], model_dir: str,
                       config: BertConfig) -> PairBatch:
    """Tokenizes `pairs`, or validates pre-tokenized `input_ids` (+ optional types and mask)."""
    if not isinstance(request, Mapping):
        raise RequestError("request must be a JSON object")
    if "pairs" in request:
        batch = _tokenize_request(request, model_dir)
    elif "input_ids" in request:
        batch = _pretokenized_request(request)
    else:
        raise RequestError('request needs "pairs" or "input_ids"')
    _check_ranges(batch, config)
    return batch


def _tokenize_request(request: Mapping[str, Any], model_dir: str) -> PairBatch:
    pairs = request["pairs"]
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs
    ):
        raise RequestError('"pairs" must be a list of [query, document] string pairs')
    tokenizer = BertTokenizer.from_dir(model_dir)
    max_length = request.get("max_length", tokenizer.model_max_length)
    if max_length is not None and (not isinstance(max_length, int) or isinstance(max_length, bool)):
        raise RequestError(f'"max_length" must be an integer, got {max_length!r}')
    return tokenizer.encode_pairs([tuple(p) for p in pairs], max_length)


def _pretokenized_request(request: Mapping[str, Any]) -> PairBatch:
    input_ids = _int_matrix(request, "input_ids")
    shape = [len(row) for row in input_ids]
    token_type_ids = (_int_matrix(request, "token_type_ids") if "token_type_ids" in request
                      else [[0] * n for n in shape])
    attention_mask = (_int_matrix(request, "attention_mask") if "attention_mask" in request
                      else [[1] * n for n in shape])
    for name, matrix in (("token_type_ids", token_type_ids), ("attention_mask", attention_mask)):
        if [len(row) for row in matrix] != shape:
            raise RequestError(f'"{name}" must have the shape of "input_ids"')
    return PairBatch(input_ids, token_type_ids, attention_mask)


def _int_matrix(request: Mapping[str, Any], name: str) -> List[List[int]]:
    rows = request[name]
    if not isinstance(rows, list) or not all(
        isinstance(row, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in row)
        for row in rows
    ):
        raise RequestError(f'"{name}" must be a list of lists of integers')
    if len({len(row) for row in rows}) > 1:
        raise RequestError(f'"{name}" rows must all have the same length (pad them)')
    if rows and not rows[0]:
        raise RequestError(f'"{name}" rows must not be empty')
    return rows


def _check_ranges(batch: PairBatch, config: BertConfig) -> None:
    width = len(batch.input_ids[0]) if batch.input_ids else 0
    if width > config.max_position_embeddings:
        raise RequestError(f"sequence length {width} exceeds max_position_embeddings "
                           f"{config.max_position_embeddings}")
    limits = (("input_ids", batch.input_ids, config.vocab_size),
              ("token_type_ids", batch.token_type_ids, config.type_vocab_size),
              ("attention_mask", batch.attention_mask, 2))
    for name, rows, limit in limits:
        for r, row in enumerate(rows):
            bad = [v for v in row if not 0 <= v < limit]
            if bad:
                raise RequestError(f'"{name}" row {r} has value {bad[0]} outside [0, {limit})')


def predict(model_dir: str, request: Mapping[str, Any]) -> Dict[str, Any]:
    """The CLI's `predict`: request object in, answer object out."""
    model = load_model(model_dir)
    batch = batch_from_request(request, model_dir, model.config)
    return {
        "input_ids": batch.input_ids,
        "token_type_ids": batch.token_type_ids,
        "attention_mask": batch.attention_mask,
        "logits": predict_logits(model, batch),
    }


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    predict_cmd = commands.add_parser("predict", help="logits for a JSON request read from stdin")
    predict_cmd.add_argument("--model", required=True, help="Hugging Face model directory")
    args = parser.parse_args(argv)

    try:
        try:
            request = json.load(sys.stdin)
        except json.JSONDecodeError as e:
            raise RequestError(f"stdin is not one JSON object ({e})") from None
        answer = predict(args.model, request)
    except (ValueError, OSError) as e:  # every error class above is a ValueError
        print(f"error: {e}", file=sys.stderr)
        return 2
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
