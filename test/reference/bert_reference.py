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
with logits computed in float32, in eval mode, under torch.no_grad(), all pairs in one batch. A bad
request or model prints `error: ...` on stderr and exits with status 2.

Two optional request fields serve the parity tests:
    "batch_sizes": [N, ...]  the answer also has "logits_by_batch_size": one [[...] per pair] for
        each N, the pairs cut in input order into batches of N, each padded to its own longest
        pair: the same function, other matmul shapes and padding, so PyTorch's own spread between
        batch compositions can be measured in the same run;
    "mutations": [M, ...]  the answer also has "logits_by_mutation": one [[...] per pair] for each
        M, all pairs in one batch as "logits", from a fresh copy of the model made deliberately
        wrong, so a test can show that its comparison notices: M is {"layer_norm_eps": E} (every
        LayerNorm's eps set to E) and/or {"weight_delta": {"name": P, "index": I, "delta": D}} (D
        added to element I of parameter P, flattened).

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


def predict_in_batches(model: BertForSequenceClassification, batch: PairBatch,
                       batch_size: int) -> List[List[float]]:
    """predict_logits over consecutive chunks of `batch_size` rows, each cut to its longest row
    (trailing columns where every row of the chunk is masked)."""
    logits: List[List[float]] = []
    for start in range(0, len(batch.input_ids), batch_size):
        rows = slice(start, start + batch_size)
        masks = batch.attention_mask[rows]
        width = max(max((i + 1 for i, m in enumerate(mask) if m), default=1) for mask in masks)
        logits += predict_logits(model, PairBatch(
            [ids[:width] for ids in batch.input_ids[rows]],
            [types[:width] for types in batch.token_type_ids[rows]],
            [mask[:width] for mask in masks]))
    return logits


def apply_mutation(model: BertForSequenceClassification, mutation: Any) -> None:
    """One of the request's "mutations" (see the module docstring), in place."""
    if not isinstance(mutation, Mapping) or not set(mutation) <= {"layer_norm_eps", "weight_delta"}:
        raise RequestError('a mutation must be an object with "layer_norm_eps" and/or "weight_delta"')
    if "layer_norm_eps" in mutation:
        eps = mutation["layer_norm_eps"]
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps <= 0:
            raise RequestError(f"mutation.layer_norm_eps must be a positive number, got {eps!r}")
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.eps = float(eps)
    if "weight_delta" in mutation:
        delta = mutation["weight_delta"]
        params = dict(model.named_parameters())
        if not (isinstance(delta, Mapping) and delta.get("name") in params
                and isinstance(delta.get("index"), int) and isinstance(delta.get("delta"), (int, float))
                and 0 <= delta["index"] < params[delta["name"]].numel()):
            raise RequestError('mutation.weight_delta must be {"name": a parameter, "index": an '
                               'element of it, "delta": a number}')
        with torch.no_grad():
            params[delta["name"]].view(-1)[delta["index"]] += float(delta["delta"])


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
    sizes = request.get("batch_sizes")
    if sizes is not None and not (isinstance(sizes, list) and all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes)):
        raise RequestError(f'"batch_sizes" must be a list of positive integers, got {sizes!r}')
    mutations = request.get("mutations")
    if mutations is not None and not isinstance(mutations, list):
        raise RequestError('"mutations" must be a list of mutation objects')
    answer = {
        "input_ids": batch.input_ids,
        "token_type_ids": batch.token_type_ids,
        "attention_mask": batch.attention_mask,
        "logits": predict_logits(model, batch),
    }
    if sizes is not None:
        answer["logits_by_batch_size"] = [predict_in_batches(model, batch, n) for n in sizes]
    if mutations is not None:
        answer["logits_by_mutation"] = []
        for mutation in mutations:
            mutated = load_model(model_dir)
            apply_mutation(mutated, mutation)
            answer["logits_by_mutation"].append(predict_logits(mutated, batch))
    return answer


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
